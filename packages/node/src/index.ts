/**
 * @since 0.1.0
 */

/**
 * Interop with Effect's `Socket`: a TLS connection as a `Socket`, a `Socket`
 * as a transport.
 *
 * @since 0.1.0
 */
export * as EffectSocket from "./EffectSocket.ts"

/**
 * One-call connect, serve, and upgrades over any transport.
 *
 * @since 0.1.0
 */
export * as NodeTls from "./NodeTls.ts"

/**
 * The TLS client service: shared SecureContext, session resumption.
 *
 * @since 0.1.0
 */
export * as NodeTlsClient from "./NodeTlsClient.ts"

/**
 * The client's and the server's options as Schemas, loadable from `Config`.
 *
 * @since 0.1.0
 */
export * as NodeTlsConfig from "./NodeTlsConfig.ts"

/**
 * The TLS server: supervised connections, graceful shutdown, reload.
 *
 * @since 0.1.0
 */
export * as NodeTlsServer from "./NodeTlsServer.ts"
/**
 * Transports for the duplex path (TCP, TLS in TLS).
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.ts"
/**
 * The plaintext prologue before a STARTTLS upgrade.
 *
 * @since 0.1.0
 */
export * as Plaintext from "./Plaintext.ts"
/**
 * The runtime (Node, Bun, Deno) and the paths it runs.
 *
 * @since 0.1.0
 */
export * as Runtime from "./Runtime.ts"
/**
 * `NodeTls.upgradeClient` and `NodeTls.upgradeServer` under the names of an
 * earlier release (deprecated).
 *
 * @since 0.1.0
 */
export * as Starttls from "./Starttls.ts"

/**
 * Options of the client and the server.
 *
 * @since 0.1.0
 */
export * as TlsOptions from "./TlsOptions.ts"
