/**
 * The TLS server on Node, on both paths, from one configuration: the models
 * of a running server, its layer, and the acceptor for TLS in the server role
 * over transports you bring (the one-call forms are `NodeTls.serve` and
 * `NodeTls.upgradeServer`).
 *
 * A server listens on TCP. Each accepted socket is wrapped in a server
 * TLSSocket at once (on the native path, or on the duplex path with
 * `path: "duplex"`), so the connection's IO fiber owns it from the first byte
 * and the core handshake timeout applies (a client that never sends a
 * ClientHello is dropped). Every connection runs in its own fiber of a
 * supervised set: a handler that fails or dies closes only its connection.
 * Closing the server's scope shuts it down gracefully: it stops accepting,
 * lets open connections finish until `shutdownTimeout`, then closes the rest
 * (each with close_notify, within the connection's close timeout).
 *
 * `makeAcceptor` (and a running server's `upgrade`) runs TLS in the server
 * role over transports you bring (STARTTLS, an Effect `Socket`, TLS in TLS).
 * All connections of one configuration share its SecureContexts, so session
 * tickets issued on one are accepted on the next, and `reload` reaches them all.
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsConfigError, TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import type * as Transport from "@effect-tls/core/Transport"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { serverContext } from "./internal/context.ts"
import { decodeServerConnection, serverDefaults } from "./internal/options.ts"
import * as Internal from "./internal/server.ts"
import type { Plaintext } from "./Plaintext.ts"
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
   * duplex path, with the shared contexts (tickets from earlier connections
   * resume). Given a `Plaintext` after its prologue, unconsumed plaintext
   * fails the upgrade with `TlsHandshakeError` `PlaintextInjection` before any
   * TLS byte is sent. The transport belongs to the connection.
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
  /**
   * Waits while the server runs: succeeds once it has shut down (its scope
   * closed), fails with the listener's first error after `listen` (an accept
   * that failed, such as EMFILE; each is also logged at warning level). The
   * listener and the open connections go on after such an error: yield
   * `join` where a program would wait with `Effect.never`, so that the
   * failure ends it (and its scope shuts the server down gracefully).
   */
  readonly join: Effect.Effect<void, TlsTransportError>
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
  readonly sessionCacheSize: number
} = serverDefaults

/**
 * Validates the options and builds the shared contexts. Invalid options or
 * credentials fail with `TlsConfigError`. The SNI resolver's lookups run as
 * fibers of the current scope, with its services: closing the scope
 * interrupts them (the handshake waiting for one then fails).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAcceptor = (
  options: TlsOptions.ServerConnectionOptions
): Effect.Effect<Acceptor, TlsConfigError, Scope.Scope> =>
  Effect.map(Effect.flatMap(decodeServerConnection(options), serverContext), Internal.acceptorOf)

/**
 * A server layer: serves with `handler` while the layer is alive (see `NodeTls.serve`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: Peer) => Effect.Effect<void, E, R>
): Layer.Layer<NodeTlsServer, TlsError, R> => Layer.effect(NodeTlsServer, Internal.serve(options, handler))

/**
 * A server layer from a `Config` (environment, files, any `ConfigProvider`),
 * beside the client's `NodeTlsClient.layerConfig`: reads the options, then
 * serves with `handler` while the layer is alive. See `NodeTlsConfig.server`
 * for options read from configuration keys (certificates and keys as PEM
 * text or file paths).
 *
 * @example
 * ```ts
 * import * as NodeTlsConfig from "@effect-tls/node/NodeTlsConfig"
 * import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
 *
 * // TLS_credentials_0_cert, TLS_credentials_0_key, TLS_port, ... from the environment.
 * export const GreetingServer = NodeTlsServer.layerConfig(NodeTlsConfig.server("TLS"), (connection) =>
 *   connection.writer.write("hello\n")
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = <E, R>(
  config: Config.Config<TlsOptions.ServerOptions>,
  handler: (connection: TlsConnection.TlsConnection, peer: Peer) => Effect.Effect<void, E, R>
): Layer.Layer<NodeTlsServer, TlsError | Config.ConfigError, R> =>
  Layer.effect(
    NodeTlsServer,
    Effect.flatMap(config, (options) => Internal.serve(options, handler))
  )
