/**
 * The TCP listener of `NodeTls.serve` and `NodeTlsServer.layer`, and the
 * acceptor both it and `NodeTlsServer.makeAcceptor` are made of.
 */
import * as net from "node:net"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import { Other, type TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import type { Acceptor, Peer, Server } from "../NodeTlsServer.ts"
import type * as TlsOptions from "../TlsOptions.ts"
import { type ServerContext, serverContext } from "./context.ts"
import { makeDuplexEngine, makeNativeEngine } from "./engine/index.ts"
import { errorCode } from "./errors.ts"
import { upgrade } from "./handover.ts"
import { decodeServer, pathOf, type ServerValues } from "./options.ts"
import * as Runtime from "./runtime.ts"
import { ServerConnections } from "./serverConnections.ts"
import { recordHandlerFailure } from "./serverMetrics.ts"
import { connectionSpan, span, tracing } from "./spans.ts"
import { ignoreError, NetTransport } from "./transports/net.ts"

export const acceptorOf = (context: ServerContext): Acceptor => ({
  reload: context.reload,
  upgrade: (over) =>
    upgrade(over, "server", context.engineOptions, context.options.connection).pipe(
      connectionSpan("NodeTlsServer.upgrade")
    )
})

const listenerError = (error: Error, detail: string) =>
  new TlsTransportError({
    reason: new Other({ code: errorCode(error), detail: `${detail}: ${error.message}`, cause: error })
  })

/**
 * Listens and serves every connection with `handler` in its own fiber until
 * the scope closes (see `NodeTls.serve`).
 *
 * Invariants: every accepted socket is owned from the `'connection'` event
 * on (by its fiber, which destroys it when it ends); the listener's errors
 * after `listen` are logged and fail `join`, and never reach the
 * connections; the scope's finalizer stops accepting before it waits for
 * the connections.
 */
export const serve = <E, R>(
  input: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: Peer) => Effect.Effect<void, E, R>
): Effect.Effect<Server, TlsError, Scope.Scope | R> =>
  Effect.gen(function* () {
    const options = yield* decodeServer(input)
    const path = pathOf(options)
    yield* Runtime.check(path)
    const { shutdownTimeout, maxConnections, port, host } = options
    const context = yield* serverContext(options)
    const duplex = path === "duplex"
    const logLevel = options.handlerFailureLogLevel

    const connections = new ServerConnections<R>(Effect.runForkWith(yield* Effect.context<R>()))
    const report = yield* FiberSet.makeRuntime<never, void, never>()
    const stopped = Deferred.makeUnsafe<void, TlsTransportError>()

    // Asked once: every connection runs in this context (see `connections`).
    const traced = yield* tracing

    // One fiber per connection, with as few frames as the contract allows:
    // an idle connection keeps each frame (and what it wraps, and its
    // closure) on its fiber's stack for as long as it lives. One frame, the
    // exit below, does what `Effect.scoped`, a `catchCause` around the handler
    // and a scope's finalizer for the connection would each do with a frame of
    // its own, in their order: a failed handler resets the connection (see
    // `handlerFailed`), the handler's scope closes, the connection is closed
    // (gracefully, as a scope would: it is made unscoped, see
    // `TlsConnection.makeUnscoped`), the socket is destroyed whatever happened
    // (the close did it already, unless the connection never took it) and the
    // fiber leaves the server's set. A failed accept is reported where it
    // arises (see `handshakeFailed`); the fiber ends with the handler's exit.
    const serveSocket = (socket: net.Socket): Effect.Effect<void, unknown, R> => {
      // Each written once, as the connection starts, by the fiber; read by its exit.
      let scope: Scope.Closeable | undefined
      let close: Effect.Effect<void> | undefined
      return Effect.onExit(
        Effect.withFiber((fiber) => {
          // The handler's own scope. The context is not put back: the fiber
          // ends with this effect.
          scope = Scope.makeUnsafe()
          fiber.setContext(Context.add(fiber.context, Scope.Scope, scope))
          return served(socket, (closeConnection) => {
            close = closeConnection
          })
        }),
        (exit) =>
          Effect.withFiber((fiber) => {
            // A failed handler resets the connection first (see `handlerFailed`).
            const closeAll =
              exit._tag === "Failure" && !Cause.hasInterruptsOnly(exit.cause)
                ? Effect.andThen(
                    handlerFailed(socket, exit.cause, logLevel),
                    Effect.suspend(() => closeScopeThenConnection(scope, exit, close))
                  )
                : closeScopeThenConnection(scope, exit, close)
            return Effect.ensuring(
              closeAll,
              Effect.sync(() => {
                socket.destroy()
                connections.leave(fiber)
              })
            )
          })
      )
    }

    const served = (socket: net.Socket, own: (close: Effect.Effect<void>) => void): Effect.Effect<void, E, R> => {
      // Read at accept time: Node forgets the address once the socket closes.
      const peer: Peer = {
        address: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
        family: socket.remoteFamily ?? ""
      }
      // The contexts current at accept time serve the whole handshake, even across a reload.
      const { tls, extras } = context.engineOptions()
      const accept = TlsConnection.makeUnscoped(
        duplex
          ? {
              engine: makeDuplexEngine("server", tls, extras),
              transport: new NetTransport(socket),
              options: options.connection
            }
          : {
              engine: makeNativeEngine("server", socket, tls, extras),
              transport: Transport.native,
              options: options.connection
            },
        own
      )
      return Effect.matchCauseEffect(
        // Accepting and the handshake only: a span open for the connection's
        // whole life would keep it (and its frames) reachable all along.
        traced
          ? span(accept, "NodeTlsServer.connection", { "client.address": peer.address, "client.port": peer.port })
          : accept,
        {
          onFailure: (cause) => handshakeFailed(peer, cause, options.onHandshakeFailure),
          onSuccess: (connection) => handler(connection, peer)
        }
      )
    }

    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
    server.maxConnections = maxConnections
    server.on("connection", (socket) => {
      // Until the TLSSocket (or the transport) takes it over, this keeps the socket's errors from throwing.
      socket.on("error", ignoreError)
      if (!connections.run(serveSocket(socket))) socket.destroy()
    })

    yield* Effect.callback<void, TlsError>((resume) => {
      const onError = (error: Error) => resume(Effect.fail(listenerError(error, `listen on ${host}:${port}`)))
      server.once("error", onError)
      server.listen(port, host, () => {
        server.removeListener("error", onError)
        resume(Effect.void)
      })
      return Effect.sync(() => server.close())
    })
    // After `listen`, an error is an accept that failed (EMFILE, ...): the
    // listener goes on and so do the open connections; the first one fails `join`.
    server.on("error", (error) => {
      const failure = listenerError(error, "accept")
      Deferred.doneUnsafe(stopped, Effect.fail(failure))
      report(Effect.logWarning("NodeTlsServer: the listener failed; open connections go on", failure))
    })

    // Added after the fiber set, so it runs first: give the connections until
    // the deadline, then interrupt them (each closes with close_notify), and
    // wait for the listener to be gone.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        // Stop accepting now; Node calls back once the open connections are gone too.
        const closed = Deferred.makeUnsafe<void>()
        server.close(() => Deferred.doneUnsafe(closed, Effect.void))
        const drained = yield* connections.awaitEmpty.pipe(Effect.timeoutOption(shutdownTimeout))
        if (drained._tag === "None") yield* connections.interruptAll
        yield* Deferred.await(closed)
        // Whatever was accepted meanwhile is interrupted, and nothing runs from now on.
        connections.close()
        yield* connections.interruptAll
        Deferred.doneUnsafe(stopped, Effect.void)
      })
    )

    const bound = server.address() as net.AddressInfo
    const result: Server = {
      ...acceptorOf(context),
      address: { host: bound.address, port: bound.port, family: bound.family },
      connections: connections.size,
      join: Deferred.await(stopped)
    }
    return result
  })

/**
 * The end of a served connection, once the handler is done: its scope closes,
 * then the connection (gracefully). A finalizer of the handler that fails or
 * dies closes the connection all the same, and its cause ends the fiber. Run
 * in the fiber's exit handler, uninterruptibly: the scope is closed in place,
 * and a handler's scope without finalizers costs no effect.
 */
const closeScopeThenConnection = (
  scope: Scope.Closeable | undefined,
  exit: Exit.Exit<unknown, unknown>,
  close: Effect.Effect<void> | undefined
): Effect.Effect<void> => {
  const closing = scope === undefined ? undefined : Scope.closeUnsafe(scope, exit)
  if (closing === undefined) return close ?? Effect.void
  return Effect.flatMap(Effect.exit(closing), (finalized) =>
    close === undefined ? finalized : Effect.andThen(close, finalized)
  )
}

/**
 * A handler failed (an error or a defect): the connection is reset at once,
 * before the handler's scope and the connection close, so the client sees a
 * TCP RST and no close_notify (a crashed handler must not look like a clean
 * end: Node can send no alert of our choosing), and the failure is counted
 * and logged at `level` with the client's address (Node keeps the address it
 * read at accept time, see `served`, after the socket is gone).
 */
const handlerFailed = (
  socket: net.Socket,
  cause: Cause.Cause<unknown>,
  level: LogLevel.Severity | "None"
): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!socket.destroyed) socket.resetAndDestroy()
    const counted = recordHandlerFailure(Cause.hasDies(cause) ? "defect" : "error")
    if (level === "None") return counted
    return Effect.andThen(
      counted,
      Effect.logWithLevel(level)("NodeTlsServer: the handler failed; its connection was reset", cause).pipe(
        Effect.annotateLogs({ "client.address": socket.remoteAddress ?? "", "client.port": socket.remotePort ?? 0 })
      )
    )
  })

/**
 * A connection that failed before its handler ran (the handshake failed or
 * timed out, the client left): logged at debug level, and reported to
 * `onHandshakeFailure`, whose own failure goes no further. An interruption
 * (the server's shutdown) is neither, and stays an interruption.
 */
const handshakeFailed = (
  peer: Peer,
  cause: Cause.Cause<TlsError>,
  onHandshakeFailure: ServerValues["onHandshakeFailure"]
): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
  const logged = Effect.logDebug("TLS connection failed before its handler ran", cause).pipe(
    Effect.annotateLogs({ "client.address": peer.address, "client.port": peer.port })
  )
  const error = Cause.findErrorOption(cause)
  return onHandshakeFailure === undefined || error._tag === "None"
    ? logged
    : Effect.andThen(logged, Effect.ignoreCause(onHandshakeFailure(error.value, peer)))
}
