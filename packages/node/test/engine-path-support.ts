/**
 * Shared fixtures of the engine-path tests: a TCP listener on 127.0.0.1 that
 * hands over accepted sockets, and client/server option sets from the test CA.
 */
import { CertificateAuthority, Loopback } from "@effect-tls/test"
import * as Effect from "effect/Effect"

/**
 * A TCP listener on 127.0.0.1 whose accepted sockets are paused and allow
 * half-open connections (what `NodeTransport.fromSocket` takes); the scope
 * closes it and destroys every accepted socket.
 */
export const listen = Loopback.listen({ allowHalfOpen: true, pauseOnConnect: true })

/** Server and client TLS options from the test CA (P-256 leaf for `localhost`). */
export const credentials = Effect.gen(function* () {
  const pki = yield* CertificateAuthority.make()
  const server = yield* pki.issueServer()
  return {
    server: { credentials: [{ cert: server.chain, key: server.redactedKey }] },
    client: { ca: pki.root, servername: "localhost" }
  }
})

/** Deterministic pseudo-random bytes (xorshift32). */
export const pattern = (length: number, seed = 0x12345678): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}
