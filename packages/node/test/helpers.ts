/**
 * Test helpers for the native path: a TLS server on 127.0.0.1 whose
 * connections are handed to the test, and a pausable/corrupting TCP proxy.
 */
import * as net from "node:net"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

/** Reads until the end, at most `limit` chunks. */
export const readAll = (connection: TlsConnection.TlsConnection, limit = 1_000_000) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) break
      parts.push(chunk.value)
    }
    return Buffer.concat(parts)
  })

/**
 * A server whose connections are offered to a queue; each connection stays
 * open until the test completes its `release` deferred or the scope closes.
 */
export const testServer = (options: TlsOptions.ServerOptions) =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
    const release = yield* Deferred.make<void>()
    // Handlers here wait for the test; a short shutdown keeps the scope's close quick.
    const server = yield* NodeTlsServer.serve({ shutdownTimeout: "100 millis", ...options }, (connection) =>
      Effect.andThen(Queue.offer(accepted, connection), Deferred.await(release))
    )
    return { server, accepted, release, port: server.address.port }
  })

/** A TCP listener that accepts and never answers (for handshake timeouts). */
export const silentServer: Effect.Effect<{ readonly port: number }, never, Scope.Scope> = Effect.gen(function* () {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
  })
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )
  return { port: (server.address() as net.AddressInfo).port }
})

/**
 * A TCP proxy on 127.0.0.1 to `port`: one connection at a time, each direction
 * can be paused, and the next chunk towards the client can be corrupted.
 */
export const proxy = (port: number) =>
  Effect.gen(function* () {
    const pairs = new Set<net.Socket>()
    const state = {
      corruptNextToClient: false,
      upstream: undefined as net.Socket | undefined,
      downstream: undefined as net.Socket | undefined
    }
    const server = net.createServer({ allowHalfOpen: true }, (downstream) => {
      const upstream = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
      state.upstream = upstream
      state.downstream = downstream
      for (const socket of [downstream, upstream]) {
        pairs.add(socket)
        socket.on("error", () => {
          downstream.destroy()
          upstream.destroy()
        })
      }
      downstream.pipe(upstream)
      upstream.on("data", (chunk: Buffer) => {
        if (state.corruptNextToClient && chunk.length > 10) {
          state.corruptNextToClient = false
          chunk[chunk.length - 5] = (chunk[chunk.length - 5] ?? 0) ^ 0xff
        }
        if (!downstream.write(chunk)) {
          upstream.pause()
          downstream.once("drain", () => upstream.resume())
        }
      })
      upstream.on("end", () => downstream.end())
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const socket of pairs) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return { port: (server.address() as net.AddressInfo).port, state }
  })

/** The failure of an effect that must fail. */
export const failure = <A>(effect: Effect.Effect<A, TlsError, Scope.Scope>) => Effect.scoped(Effect.flip(effect))

/** A port nobody listens on (bound, then released). */
export const closedPort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})
