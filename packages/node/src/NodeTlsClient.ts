/**
 * A TLS client on Node's native path: a node:tls TLSSocket over a TCP socket,
 * driven by the core connection's IO fiber.
 *
 * A client made from one configuration shares one SecureContext across its
 * connections (a context per connection costs about a fifth of the handshake
 * rate) and keeps the latest session ticket per server, so that repeated
 * connections resume (TLS 1.3 tickets).
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import { type TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import * as Transport from "@effect-tls/core/Transport"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type ClientContext, clientContext } from "./internal/context.ts"
import { fromNodeError } from "./internal/errors.ts"
import { makeFusedEngine } from "./internal/tlsSocketEngine.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * Where to connect, with per-call overrides of the client's configuration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  /** A host name, an IPv4 or an IPv6 address. */
  readonly host: string
  readonly port: number
  /** Overrides the configured SNI name and the name the certificate must match. */
  readonly servername?: string | undefined
  /** Overrides the configured ALPN offer. */
  readonly alpn?: ReadonlyArray<string> | undefined
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
  /** Session tickets held for resumption (one per server, latest first out). */
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
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(10)

const SESSION_CACHE_SIZE = 256

/**
 * Makes a client: validates the options and builds the shared SecureContext.
 * Invalid options fail with `TlsConfigError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: TlsOptions.ClientOptions = {}): Effect.Effect<Client, TlsError> =>
  Effect.map(clientContext(options), (context) => fromContext(context, options.sessionCache !== false))

/**
 * A client layer from options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: TlsOptions.ClientOptions = {}): Layer.Layer<NodeTlsClient, TlsError> =>
  Layer.effect(NodeTlsClient, make(options))

/**
 * A client layer from a `Config` (environment, files, any `ConfigProvider`).
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

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const fromContext = (context: ClientContext, cacheSessions: boolean): Client => {
  // Invariant: at most SESSION_CACHE_SIZE entries; Map order is insertion
  // order, so re-inserting on every update keeps the oldest first.
  const sessions = new Map<string, Buffer>()
  const connectTimeout = Duration.fromInputUnsafe(context.options.connectTimeout ?? defaultConnectTimeout)
  return {
    cachedSessions: Effect.sync(() => sessions.size),
    connect: (target) =>
      Effect.gen(function* () {
        const key = `${target.host}|${target.port}|${target.servername ?? ""}|${(target.alpn ?? []).join(",")}`
        const session = cacheSessions ? sessions.get(key) : undefined
        const tcp = yield* tcpConnect(target.host, target.port, connectTimeout)
        const { tls, extras } = context.engineOptions({
          host: target.host,
          servername: target.servername,
          alpn: target.alpn,
          session,
          onSession: cacheSessions
            ? (ticket) => {
                sessions.delete(key)
                sessions.set(key, ticket)
                if (sessions.size > SESSION_CACHE_SIZE) {
                  const oldest = sessions.keys().next()
                  if (oldest.done !== true) sessions.delete(oldest.value)
                }
              }
            : undefined
        })
        const engine = makeFusedEngine("client", tcp, tls, extras)
        return yield* TlsConnection.make({
          engine,
          transport: Transport.fused,
          options: context.options.connection
        })
      }).pipe(
        Effect.withSpan("NodeTlsClient.connect", {
          attributes: { "server.address": target.host, "server.port": target.port }
        })
      )
  }
}

/**
 * A TCP connection in the current scope. Interruption or the timeout destroys
 * the socket at once; so does closing the scope.
 */
export const tcpConnect = (
  host: string,
  port: number,
  timeout: Duration.Duration
): Effect.Effect<net.Socket, TlsError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(
      restore(
        Effect.callback<net.Socket, TlsError>((resume) => {
          const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
          socket.once("connect", () => {
            socket.removeAllListeners("error")
            // Errors before the TLSSocket takes over reach it through the wrap; this keeps them from throwing.
            socket.on("error", () => {})
            resume(Effect.succeed(socket))
          })
          socket.once("error", (error) => {
            socket.destroy()
            resume(Effect.fail(fromNodeError(error, false)))
          })
          return Effect.sync(() => socket.destroy())
        }).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () =>
              Effect.fail(
                new TlsTransportError({
                  reason: "Timeout",
                  detail: `no TCP connection to ${host}:${port} within ${Duration.format(timeout)}`
                })
              )
          })
        )
      ),
      (socket) =>
        Effect.as(
          Effect.addFinalizer(() => Effect.sync(() => socket.destroy())),
          socket
        )
    )
  )
