/**
 * The one-call entry points, one per role and transport:
 *
 * - `connect`: a client over TCP to a host and port;
 * - `serve`: a server listening on TCP;
 * - `upgradeClient`, `upgradeServer`: TLS over a transport you bring, in either
 *   role: a STARTTLS prologue's `Plaintext`, an Effect `Socket`
 *   (`EffectSocket.toTransport`), another TLS connection
 *   (`NodeTransport.fromTlsConnection`), an in-memory pair.
 *
 * `connect` and `serve` run the native path unless `path: "duplex"` is given;
 * an upgrade always runs the duplex path (see the guide's glossary).
 *
 * `connect` and `upgradeClient` share one client context (SecureContext and
 * session cache) among all calls with equal options, process-wide (up to 32
 * configurations, the least recently used dropped first), as Node's
 * `https.globalAgent` does: repeated calls neither rebuild a context nor
 * miss a resumption. A shared context outlives the calls that made it (with
 * a client certificate's key and the sessions, until it is dropped): for a
 * client whose context and sessions are its own and live with its scope,
 * make one (`NodeTlsClient.make`, or its layer). Each
 * `upgradeServer` call builds its server's contexts; for many connections
 * with one configuration, make an acceptor (`NodeTlsServer.makeAcceptor`)
 * once and use its `upgrade`, so its tickets resume.
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { sharedClient } from "./internal/client.ts"
import { upgradeOnce } from "./internal/handover.ts"
import * as Server from "./internal/server.ts"
import { connectionSpan } from "./internal/spans.ts"
import * as NodeTlsServer from "./NodeTlsServer.ts"
import type { Plaintext } from "./Plaintext.ts"
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
 * 10 seconds). The connection lives until the scope closes. Calls with equal
 * options share a SecureContext and a session cache (see the module note), so
 * a repeated connect resumes, unless `sessionCache` is false.
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
  Effect.flatMap(sharedClient(options), (client) => client.connect({ host: options.host, port: options.port }))

/**
 * Listens and serves every connection with `handler` in its own fiber, until
 * the scope closes, then shuts down gracefully (see `NodeTlsServer`). The
 * connection is valid while the handler runs; when the handler ends the
 * connection is closed gracefully. The handler also gets the TCP peer (for
 * logs and limits: what the TLS session cannot tell).
 *
 * Each connection's accept and handshake run in a `NodeTlsServer.connection`
 * span (attributes `client.address`, `client.port`), which ends when the
 * handshake is done or fails; the handler runs outside it, under the span
 * current where `serve` ran. The SNI resolver runs in the server's scope,
 * with the services of the context `serve` ran in.
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
 * // An echo server on port 4433 until the program is interrupted or the
 * // listener fails, then a graceful shutdown.
 * export const echo = Effect.scoped(
 *   Effect.flatMap(
 *     NodeTls.serve({ credentials: [{ cert, key: Redacted.make(key) }], port: 4433 }, (tls) =>
 *       Stream.run(tls.reader.stream, tls.writer.sink)
 *     ),
 *     (server) => server.join
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
) => Effect.Effect<NodeTlsServer.Server, TlsError, Scope.Scope | R> = Server.serve

/**
 * Options of {@link upgradeClient}: the client's options but those of a TCP
 * connect and of a session cache, plus the name the transport leads to.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeClientOptions
  extends Omit<TlsOptions.ClientOptions, "path" | "connectTimeout" | "sessionCache"> {
  /**
   * The default SNI name and the name the certificate must match, unless
   * `servername` is given. Default: `servername`, else `localhost`.
   */
  readonly host?: string | undefined
}

/**
 * Runs TLS in the client role over `over`, on the duplex path, and returns
 * the established connection, acquired in the current scope. Pass a
 * `Plaintext` after its prologue: if it holds unconsumed bytes, the upgrade
 * fails with `TlsHandshakeError` `PlaintextInjection` and the transport is
 * destroyed before any TLS byte is sent. Pass a bare transport to speak TLS
 * from its first byte. The transport belongs to the connection (and is
 * destroyed with it) from the start of this effect, whatever its outcome.
 *
 * Handshake failures are typed (`TlsHandshakeError` by reason); the handshake
 * and the graceful close are bounded by the connection's timeouts. Calls with
 * equal options share a SecureContext but keep no session: use a client's
 * `upgrade` for that (see the module note).
 *
 * @example
 * ```ts
 * import * as EffectSocket from "@effect-tls/node/EffectSocket"
 * import * as NodeTls from "@effect-tls/node/NodeTls"
 * import * as Effect from "effect/Effect"
 * import type * as Socket from "effect/socket/Socket"
 *
 * declare const socket: Socket.Socket
 * declare const ca: string
 *
 * // TLS over an Effect Socket (a WebSocket, a duplex, TCP).
 * export const secured = Effect.gen(function* () {
 *   const transport = yield* EffectSocket.toTransport(socket)
 *   return yield* NodeTls.upgradeClient(transport, { ca, servername: "api.example" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const upgradeClient = (
  over: Transport | Plaintext,
  options: UpgradeClientOptions
): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> => {
  const { host, ...clientOptions } = options
  return upgradeOnce(over, sharedClient({ ...clientOptions, sessionCache: false }), (client) =>
    client.upgrade(over, { host })
  ).pipe(connectionSpan("NodeTls.upgradeClient"))
}

/**
 * Runs TLS in the server role over `over`, on the duplex path (see
 * {@link upgradeClient} for the injection check, the ownership of the
 * transport and the bounds). Certificates per SNI name (`sni`) are served,
 * and `resolveSni` is consulted for other names.
 *
 * This builds the SecureContexts for this one connection, so no ticket it
 * issues can be resumed: use an acceptor's `upgrade` for that (see the
 * module note).
 *
 * @since 0.1.0
 * @category constructors
 */
export const upgradeServer = (
  over: Transport | Plaintext,
  options: TlsOptions.ServerConnectionOptions
): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  upgradeOnce(over, NodeTlsServer.makeAcceptor(options), (acceptor) => acceptor.upgrade(over)).pipe(
    connectionSpan("NodeTls.upgradeServer")
  )
