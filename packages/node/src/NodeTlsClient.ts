/**
 * A TLS client on Node, on both paths, from one configuration:
 *
 * - `connect`: TCP to a host and port, then TLS on Node's native path (a
 *   node:tls TLSSocket on the TCP handle), or on the engine path with
 *   `engine: "duplex"`;
 * - `upgrade`: TLS over a transport you bring (an Effect `Socket`, another TLS
 *   connection, a STARTTLS prologue's `Starttls.Plaintext`), on the engine path.
 *
 * Every connection of a client shares one SecureContext (a context per
 * connection costs about a fifth of the handshake rate) and one session cache
 * (the latest ticket per server), so repeated connections resume (TLS 1.3
 * tickets), whichever path they take.
 *
 * @since 0.1.0
 */
import type { Engine } from "@effect-tls/core/Engine"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import { type TlsError, TlsHandshakeError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ClientContext, clientContext } from "./internal/context.ts"
import { makeDuplexEngine, makeNativeEngine } from "./internal/engine/index.ts"
import { noStack } from "./internal/spans.ts"
import * as Net from "./internal/transports/net.ts"
import { handOver } from "./internal/transports/plaintext.ts"
import type { Plaintext } from "./Starttls.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * Whom a connection over a transport is for, with per-call overrides of the
 * client's configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeTarget {
  /**
   * The name the transport leads to: the default SNI name and the name the
   * certificate must match. Default: the configured `servername`, else `localhost`.
   */
  readonly host?: string | undefined
  /** Overrides the configured SNI name and the name the certificate must match. */
  readonly servername?: string | undefined
  /** Overrides the configured ALPN offer. */
  readonly alpn?: ReadonlyArray<string> | undefined
}

/**
 * Where to connect, with per-call overrides of the client's configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target extends UpgradeTarget {
  /** A host name, an IPv4 or an IPv6 address. */
  readonly host: string
  readonly port: number
}

/**
 * A configured client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  /**
   * Connects and completes the handshake within the connect and handshake
   * timeouts. The connection lives until the scope closes. Interrupting it at
   * any moment (DNS, TCP connect, handshake) releases the socket at once.
   */
  readonly connect: (target: Target) => Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>
  /**
   * Runs TLS in the client role over a transport that is already open, on the
   * engine path, with this client's SecureContext and session cache. Given a
   * `Starttls.Plaintext` after its prologue, unconsumed plaintext fails the
   * upgrade with `TlsHandshakeError` `PlaintextInjection` before any TLS byte
   * is sent. The transport belongs to the connection from now on.
   */
  readonly upgrade: (
    over: Transport.Transport | Plaintext,
    target?: UpgradeTarget
  ) => Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>
  /** Session tickets held for resumption (one per server, the least recently updated evicted first). */
  readonly cachedSessions: Effect.Effect<number>
}

/**
 * The client as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class NodeTlsClient extends Context.Service<NodeTlsClient, Client>()("@effect-tls/node/NodeTlsClient") {}

/**
 * Default bound on the TCP connect, DNS included.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultConnectTimeout: Duration.Duration = Net.defaultConnectTimeout

/**
 * Makes a client: validates the options and builds the shared SecureContext.
 * Invalid options fail with `TlsConfigError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TlsOptions.ClientOptions = {}): Effect.Effect<Client, TlsError> =>
  Effect.map(clientContext(options), fromContext)

/**
 * A client layer from options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TlsOptions.ClientOptions = {}): Layer.Layer<NodeTlsClient, TlsError> =>
  Layer.effect(NodeTlsClient, make(options))

/**
 * A client layer from a `Config` (environment, files, any `ConfigProvider`);
 * see `TlsConfig.client` for one read from configuration keys.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<TlsOptions.ClientOptions>
): Layer.Layer<NodeTlsClient, TlsError | Config.ConfigError> =>
  Layer.effect(
    NodeTlsClient,
    Effect.gen(function* () {
      const options = yield* config
      return yield* make(options)
    })
  )

/**
 * Connects with the client service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connect = (
  target: Target
): Effect.Effect<TlsConnection.TlsConnection, TlsError, NodeTlsClient | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* NodeTlsClient
    return yield* client.connect(target)
  })

/**
 * Runs TLS over `over` with the client service (see `Client.upgrade`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const upgrade = (
  over: Transport.Transport | Plaintext,
  target?: UpgradeTarget
): Effect.Effect<TlsConnection.TlsConnection, TlsError, NodeTlsClient | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* NodeTlsClient
    return yield* client.upgrade(over, target)
  })

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const release = (engine: Engine, transport: Transport.Transport): void => {
  transport.destroy()
  engine.destroy()
}

const fromContext = (context: ClientContext): Client => {
  const options = context.options
  const connectTimeout = options.connectTimeout ?? defaultConnectTimeout
  const duplex = options.engine === "duplex"
  return {
    cachedSessions: Effect.sync(context.cachedSessions),
    connect: (target) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(Net.openSocket({ host: target.host, port: target.port, connectTimeout })), (socket) => {
          // From here the socket is never without an owner: this region is
          // uninterruptible until `make` runs, and if `make` fails or is
          // interrupted, even before its scope finalizer owns them, the
          // engine and the transport (and with them the socket) are
          // destroyed here. A connection that is made is closed by its
          // scope, so the socket needs no finalizer of its own.
          const { tls, extras } = context.engineOptions(target)
          const engine = duplex
            ? makeDuplexEngine("client", tls, extras)
            : makeNativeEngine("client", socket, tls, extras)
          const transport = duplex ? new Net.NetTransport(socket) : Transport.native
          return restore(TlsConnection.make({ engine, transport, options: options.connection })).pipe(
            Effect.onExit((exit) =>
              Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => release(engine, transport))
            )
          )
        })
      ).pipe(
        Effect.withSpan(
          "NodeTlsClient.connect",
          {
            attributes: {
              "server.address": target.host,
              "server.port": target.port,
              "tls.engine": options.engine ?? "native"
            }
          },
          noStack
        )
      ),
    upgrade: (over, target) =>
      Effect.suspend(() => {
        const transport = handOver(over)
        if (transport instanceof TlsHandshakeError) return Effect.fail(transport)
        const host = target?.host ?? target?.servername ?? options.servername ?? "localhost"
        const { tls, extras } = context.engineOptions({ ...target, host })
        return TlsConnection.make({
          engine: makeDuplexEngine("client", tls, extras),
          transport,
          options: options.connection
        })
      }).pipe(Effect.withSpan("NodeTlsClient.upgrade", undefined, noStack))
  }
}
