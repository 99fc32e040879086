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

/**
 * Listens on 127.0.0.1, any free port, until the scope closes; then destroys
 * the sockets in `sockets` and waits for the listener to be gone.
 */
const listenLocal = (server: net.Server, sockets: ReadonlySet<net.Socket>): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/**
 * A TCP listener that accepts and never answers (for handshake timeouts);
 * `accepted` is the next socket it accepted.
 */
export const silentServer: Effect.Effect<
  { readonly port: number; readonly accepted: Effect.Effect<net.Socket> },
  never,
  Scope.Scope
> = Effect.gen(function* () {
  const sockets = new Set<net.Socket>()
  const accepted = yield* Queue.unbounded<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
    Queue.offerUnsafe(accepted, socket)
  })
  const port = yield* listenLocal(server, sockets)
  return { port, accepted: Queue.take(accepted) }
})

/** A direction through the proxy. */
export type ProxyDirection = "toServer" | "toClient"

/**
 * A TCP proxy on 127.0.0.1 to `port` for one connection at a time. Each
 * direction can be paused (the source is no longer read, so TCP backpressure
 * reaches the sender), ended with a bare FIN, or the whole pair reset; the next
 * chunk towards the client can be corrupted.
 */
export const proxy = (port: number) =>
  Effect.gen(function* () {
    const sockets = new Set<net.Socket>()
    const paused = new Set<ProxyDirection>()
    const links = new Map<ProxyDirection, { readonly from: net.Socket; readonly to: net.Socket }>()
    const state = { corruptNextToClient: false }
    const connected = yield* Deferred.make<void>()
    const link = (direction: ProxyDirection, from: net.Socket, to: net.Socket) => {
      links.set(direction, { from, to })
      if (paused.has(direction)) from.pause()
      from.on("data", (chunk: Buffer) => {
        if (direction === "toClient" && state.corruptNextToClient && chunk.length > 10) {
          state.corruptNextToClient = false
          chunk[chunk.length - 5] = (chunk[chunk.length - 5] ?? 0) ^ 0xff
        }
        if (!to.write(chunk)) {
          from.pause()
          to.once("drain", () => {
            if (!paused.has(direction)) from.resume()
          })
        }
      })
      from.on("end", () => to.end())
    }
    const server = net.createServer({ allowHalfOpen: true }, (downstream) => {
      const upstream = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
      for (const socket of [downstream, upstream]) {
        sockets.add(socket)
        socket.on("error", () => {
          downstream.destroy()
          upstream.destroy()
        })
      }
      link("toServer", downstream, upstream)
      link("toClient", upstream, downstream)
      Deferred.doneUnsafe(connected, Effect.void)
    })
    const ownPort = yield* listenLocal(server, sockets)
    return {
      port: ownPort,
      state,
      connected: Deferred.await(connected),
      pause: (direction: ProxyDirection) =>
        Effect.sync(() => {
          paused.add(direction)
          links.get(direction)?.from.pause()
        }),
      resume: (direction: ProxyDirection) =>
        Effect.sync(() => {
          paused.delete(direction)
          links.get(direction)?.from.resume()
        }),
      end: (direction: ProxyDirection) =>
        Effect.sync(() => {
          const found = links.get(direction)
          if (found === undefined) return
          found.from.removeAllListeners("data")
          found.from.pause()
          found.to.end()
        }),
      reset: Effect.sync(() => {
        for (const socket of sockets) socket.resetAndDestroy()
      })
    }
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
