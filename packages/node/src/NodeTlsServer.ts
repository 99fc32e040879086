/**
 * A TLS server on Node, on both paths, from one configuration.
 *
 * `serve` listens on TCP. Each accepted socket is wrapped in a server TLSSocket
 * at once (on the native path, or on the engine path with `engine: "duplex"`),
 * so the connection's IO fiber owns it from the first byte and the core
 * handshake timeout applies (a client that never sends a ClientHello is
 * dropped). Every connection runs in its own fiber of a supervised set: a
 * handler that fails or dies closes only its connection. Closing the server's
 * scope shuts it down gracefully: it stops accepting, lets open connections
 * finish until `shutdownTimeout`, then closes the rest (each with
 * close_notify, within the connection's close timeout).
 *
 * `makeAcceptor` (and a running server's `upgrade`) runs TLS in the server
 * role over transports you bring (STARTTLS, an Effect `Socket`, TLS in TLS).
 * All connections of one configuration share its SecureContexts, so session
 * tickets issued on one are accepted on the next, and `reload` reaches them all.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import { type TlsConfigError, type TlsError, TlsHandshakeError, TlsTransportError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ServerContext, serverContext, serverDefaults } from "./internal/context.ts"
import { makeDuplexEngine, makeNativeEngine } from "./internal/engine/index.ts"
import { errorCode } from "./internal/errors.ts"
import { noStack } from "./internal/spans.ts"
import { ignoreError, NetTransport } from "./internal/transports/net.ts"
import { handOver } from "./internal/transports/plaintext.ts"
import type { Plaintext } from "./Starttls.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * A server configuration made once, for TLS in the server role over
 * transports you bring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Acceptor {
  /**
   * Runs TLS in the server role over a transport that is already open, on the
   * engine path, with the shared contexts (tickets from earlier connections
   * resume). Given a `Starttls.Plaintext` after its prologue, unconsumed
   * plaintext fails the upgrade with `TlsHandshakeError` `PlaintextInjection`
   * before any TLS byte is sent. The transport belongs to the connection.
   */
  readonly upgrade: (
    over: Transport.Transport | Plaintext
  ) => Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>
  /**
   * Swaps the credentials without a restart: new handshakes use the new ones,
   * open connections go on. Fails with `TlsConfigError`, keeping the old ones.
   * The new contexts come with new session-ticket keys, so sessions from
   * before the reload do not resume (a full handshake shows the new certificate).
   */
  readonly reload: (
    credentials: ReadonlyArray<TlsOptions.Credential>,
    sni?: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>>
  ) => Effect.Effect<void, TlsConfigError>
}

/**
 * A running server. Its `upgrade` serves transports from elsewhere with the
 * listener's contexts (a STARTTLS port next to an implicit-TLS one, sharing
 * tickets and reloads).
 *
 * @since 0.1.0
 * @category models
 */
export interface Server extends Acceptor {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number; readonly family: string }
  /** Connections being served now (by the listener; not those of `upgrade`). */
  readonly connections: Effect.Effect<number>
}

/**
 * The TCP peer of a served connection, as the listener accepted it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  readonly address: string
  readonly port: number
  /** `IPv4` or `IPv6`. */
  readonly family: string
}

/**
 * The server as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class NodeTlsServer extends Context.Service<NodeTlsServer, Server>()("@effect-tls/node/NodeTlsServer") {}

/**
 * Defaults of the server's limits.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  readonly maxConnections: number
  readonly idleTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
} = serverDefaults

/**
 * Validates the options and builds the shared contexts. Invalid options or
 * credentials fail with `TlsConfigError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAcceptor = (options: TlsOptions.ServerConnectionOptions): Effect.Effect<Acceptor, TlsConfigError> =>
  Effect.map(serverContext(options), acceptorOf)

/**
 * Listens and serves every connection with `handler` in its own fiber, until
 * the scope closes. The connection is valid while the handler runs; when the
 * handler ends the connection is closed gracefully. The handler also gets the
 * TCP peer (for logs and limits: what the TLS session cannot tell).
 *
 * Each connection's accept and handshake run in a `NodeTlsServer.connection`
 * span (attributes `client.address`, `client.port`), which ends when the
 * handshake is done or fails; the handler runs outside it, under the span
 * current where `serve` ran.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: Peer) => Effect.Effect<void, E, R>
): Effect.Effect<Server, TlsError, Scope.Scope | R> =>
  Effect.gen(function* () {
    const context = yield* serverContext(options)
    const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? defaults.shutdownTimeout)
    const duplex = options.engine === "duplex"

    const set = yield* FiberSet.make<void, never>()
    const run = yield* FiberSet.runtime(set)<R>()

    const serveSocket = (socket: net.Socket): Effect.Effect<void, never, R> => {
      // Read at accept time: Node forgets the address once the socket closes.
      const peer: Peer = {
        address: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
        family: socket.remoteFamily ?? ""
      }
      // The contexts current at accept time serve the whole handshake, even across a reload.
      const { tls, extras } = context.engineOptions()
      const accept = TlsConnection.make(
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
            }
      ).pipe(
        // Accepting and the handshake only: a span open for the connection's
        // whole life would keep it (and its frames) reachable all along.
        Effect.withSpan(
          "NodeTlsServer.connection",
          { attributes: { "client.address": peer.address, "client.port": peer.port } },
          noStack
        )
      )
      return Effect.scoped(Effect.flatMap(accept, (connection) => handler(connection, peer))).pipe(
        Effect.onExit((exit) => connectionEnded(socket, exit)),
        Effect.ignoreCause
      )
    }

    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
    server.maxConnections = options.maxConnections ?? defaults.maxConnections
    server.on("connection", (socket) => {
      // Until the TLSSocket (or the transport) takes it over, this keeps the socket's errors from throwing.
      socket.on("error", ignoreError)
      run(serveSocket(socket))
    })

    const host = options.host ?? "127.0.0.1"
    yield* Effect.callback<void, TlsError>((resume) => {
      const onError = (error: Error) =>
        resume(
          Effect.fail(
            new TlsTransportError({ reason: "Other", code: errorCode(error), detail: error.message, cause: error })
          )
        )
      server.once("error", onError)
      server.listen(options.port ?? 0, host, () => {
        server.removeListener("error", onError)
        resume(Effect.void)
      })
      return Effect.sync(() => server.close())
    })
    server.on("error", () => {})

    // Added after the fiber set, so it runs first: stop accepting, give the
    // connections until the deadline, then interrupt them (each closes with
    // close_notify), and wait for the listener to be gone.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const closed = Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
        const drained = yield* FiberSet.awaitEmpty(set).pipe(Effect.timeoutOption(shutdownTimeout))
        if (drained._tag === "None") yield* FiberSet.clear(set)
        yield* closed
      })
    )

    const bound = server.address() as net.AddressInfo
    const result: Server = {
      ...acceptorOf(context),
      address: { host: bound.address, port: bound.port, family: bound.family },
      connections: FiberSet.size(set)
    }
    return result
  })

/**
 * A server layer: serves with `handler` while the layer is alive.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: Peer) => Effect.Effect<void, E, R>
): Layer.Layer<NodeTlsServer, TlsError, R> => Layer.effect(NodeTlsServer, serve(options, handler))

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

/**
 * A served connection's end: the TCP socket is destroyed whatever happened
 * (the connection's scope closed it already, unless it never took it), and a
 * failure other than an interruption is logged at debug level.
 */
const connectionEnded = (socket: net.Socket, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
  socket.destroy()
  return Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
    ? Effect.void
    : Effect.logDebug("TLS connection ended with a failure", exit.cause)
}

const acceptorOf = (context: ServerContext): Acceptor => ({
  reload: context.reload,
  upgrade: (over) =>
    Effect.suspend(() => {
      const transport = handOver(over)
      if (transport instanceof TlsHandshakeError) return Effect.fail(transport)
      const { tls, extras } = context.engineOptions()
      return TlsConnection.make({
        engine: makeDuplexEngine("server", tls, extras),
        transport,
        options: context.options.connection
      })
    }).pipe(Effect.withSpan("NodeTlsServer.upgrade", undefined, noStack))
})
