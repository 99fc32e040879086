/**
 * One-call entry points of the native path: connect to a server, or serve.
 * For many connections with one configuration, use the client service of
 * `NodeTlsClient`, which shares the SecureContext and resumes sessions.
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeTlsClient from "./NodeTlsClient.ts"
import * as NodeTlsServer from "./NodeTlsServer.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * Options of a single connection: where to, and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends TlsOptions.ClientOptions {
  readonly host: string
  readonly port: number
}

/**
 * Connects to `host:port` over TCP and completes the TLS handshake, within
 * the connect timeout (default 10 seconds) and the handshake timeout (default
 * 10 seconds). The connection lives until the scope closes.
 *
 * @example
 * ```ts
 * import * as NodeTls from "@effect-tls/node/NodeTls"
 * import * as Effect from "effect/Effect"
 *
 * // Sends a request line and reads the answer line; the connection closes
 * // (close_notify) when the scope does.
 * export const ask = (question: string) =>
 *   Effect.scoped(
 *     Effect.gen(function* () {
 *       const tls = yield* NodeTls.connect({ host: "example.com", port: 4433, alpn: ["my-protocol/1"] })
 *       yield* tls.writer.write(`${question}\n`)
 *       return new TextDecoder().decode(yield* tls.reader.readUntil("\n"))
 *     })
 *   )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (options: ConnectOptions): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.flatMap(NodeTlsClient.make({ ...options, sessionCache: false }), (client) =>
    client.connect({ host: options.host, port: options.port })
  )

/**
 * Serves TLS connections until the scope closes (see `NodeTlsServer.serve`).
 *
 * @example
 * ```ts
 * import * as NodeTls from "@effect-tls/node/NodeTls"
 * import * as Effect from "effect/Effect"
 * import * as Redacted from "effect/Redacted"
 * import * as Stream from "effect/Stream"
 *
 * declare const cert: string
 * declare const key: string
 *
 * // An echo server on port 4433 until the scope closes, then a graceful shutdown.
 * export const echo = Effect.scoped(
 *   Effect.andThen(
 *     NodeTls.serve({ credentials: [{ cert, key: Redacted.make(key) }], port: 4433 }, (tls) =>
 *       Stream.run(tls.reader.stream, tls.writer.sink)
 *     ),
 *     Effect.never
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve: <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: NodeTlsServer.Peer) => Effect.Effect<void, E, R>
) => Effect.Effect<NodeTlsServer.Server, TlsError, Scope.Scope | R> = NodeTlsServer.serve
