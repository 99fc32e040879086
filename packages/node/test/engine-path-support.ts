/**
 * Shared fixtures of the engine-path tests: a TCP listener on 127.0.0.1 that
 * hands over accepted sockets, and client/server option sets from the test CA.
 */
import * as net from "node:net"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"

export interface Listener {
  readonly port: number
  /** The next accepted socket (paused, half-open allowed). */
  readonly accept: Effect.Effect<net.Socket>
  /** Sockets accepted and not yet closed. */
  readonly openSockets: () => number
  /** Completes once every accepted socket has closed (a destroyed socket closes a tick later). */
  readonly allClosed: Effect.Effect<void>
}

/** A TCP listener on 127.0.0.1; the scope closes it and destroys every accepted socket. */
export const listen: Effect.Effect<Listener, Error, import("effect/Scope").Scope> = Effect.gen(function* () {
  const accepted = yield* Queue.unbounded<net.Socket>()
  const sockets = new Set<net.Socket>()
  const closedWaiters = new Set<() => void>()
  const server = yield* Effect.acquireRelease(
    Effect.callback<net.Server, Error>((resume) => {
      const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
        sockets.add(socket)
        socket.once("close", () => {
          sockets.delete(socket)
          if (sockets.size === 0) for (const waiter of closedWaiters) waiter()
        })
        socket.on("error", () => {})
        Queue.offerUnsafe(accepted, socket)
      })
      s.once("error", (error) => resume(Effect.fail(error)))
      s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        s.close(() => resume(Effect.void))
      })
  )
  const address = server.address() as net.AddressInfo
  const allClosed = Effect.callback<void>((resume) => {
    if (sockets.size === 0) return resume(Effect.void)
    const waiter = () => {
      closedWaiters.delete(waiter)
      resume(Effect.void)
    }
    closedWaiters.add(waiter)
    return Effect.sync(() => closedWaiters.delete(waiter))
  })
  return { port: address.port, accept: Queue.take(accepted), openSockets: () => sockets.size, allClosed }
})

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
