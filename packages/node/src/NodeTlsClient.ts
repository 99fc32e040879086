/**
 * A TLS client on Node, on both paths, from one configuration: a service for
 * the many connections of one application (the one-call forms are
 * `NodeTls.connect` and `NodeTls.upgradeClient`).
 *
 * - `connect`: TCP to a host and port, then TLS on the native path, or on the
 *   duplex path with `path: "duplex"`;
 * - `upgrade`: TLS over a transport you bring (an Effect `Socket`, another TLS
 *   connection, a STARTTLS prologue's `Plaintext`), on the duplex path.
 *
 * Every connection of a client shares one SecureContext (one per connection
 * would slow every handshake and cost memory per connection) and one session cache
 * (the latest ticket per server), so repeated connections resume (TLS 1.3
 * tickets), whichever path they take.
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type * as Transport from "@effect-tls/core/Transport"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { clientOf } from "./internal/client.ts"
import { clientContext } from "./internal/context.ts"
import { defaultConnectTimeout as connectTimeoutDefault, decodeClient, pathOf } from "./internal/options.ts"
import * as Runtime from "./internal/runtime.ts"
import type { Plaintext } from "./Plaintext.ts"
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
   * duplex path, with this client's SecureContext and session cache. Given a
   * `Plaintext` after its prologue, unconsumed plaintext fails the upgrade
   * with `TlsHandshakeError` `PlaintextInjection` before any TLS byte is
   * sent. The transport belongs to the connection from now on.
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
export const defaultConnectTimeout: Duration.Duration = connectTimeoutDefault

/**
 * Makes a client: validates the options and builds the shared SecureContext.
 * Invalid options fail with `TlsConfigError`, a path this runtime cannot run
 * with `TlsRuntimeError` (see `Runtime`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TlsOptions.ClientOptions = {}): Effect.Effect<Client, TlsError> =>
  Effect.flatMap(decodeClient(options), (values) =>
    Effect.andThen(
      Runtime.check(pathOf(values)),
      Effect.map(clientContext(values), (context) => clientOf(context, values))
    )
  )

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
 * see `NodeTlsConfig.client` for one read from configuration keys.
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
