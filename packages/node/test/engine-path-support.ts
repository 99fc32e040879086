/**
 * Shared fixtures of the engine-path tests: a TCP listener on 127.0.0.1 that
 * hands over accepted sockets, and client/server option sets from the test CA.
 */
import type * as net from "node:net"
import type { Transport } from "@effect-tls/core/Transport"
import { CertificateAuthority, Loopback } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as NodeTransport from "../src/NodeTransport.ts"

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

/**
 * A TCP connection on 127.0.0.1 to set up, with the test CA's options:
 * `serve(body)` forks the server's side in a scope of its own, over the next
 * accepted socket and its transport; `connect` is the client's transport.
 */
export const tcpPair = Effect.gen(function* () {
  const creds = yield* credentials
  const listener = yield* listen
  const serve = <A, E>(
    body: (transport: Transport, socket: net.Socket) => Effect.Effect<A, E, Scope.Scope>
  ): Effect.Effect<Fiber.Fiber<A, E>> =>
    Effect.gen(function* () {
      const socket = yield* listener.accept
      return yield* body(yield* NodeTransport.fromSocket(socket), socket)
    }).pipe(Effect.scoped, Effect.forkChild)
  return { creds, listener, serve, connect: NodeTransport.connect({ host: "127.0.0.1", port: listener.port }) }
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
