/**
 * @since 0.1.0
 */

/**
 * How a TLS connection ended.
 *
 * @since 0.1.0
 */
export * as CloseOutcome from "./CloseOutcome.ts"

/**
 * The sans-IO TLS engine interface.
 *
 * @since 0.1.0
 */
export * as Engine from "./Engine.ts"
/**
 * The connection's configuration as a Schema, loadable from `Config`.
 *
 * @since 0.1.0
 */
export * as TlsConfig from "./TlsConfig.ts"
/**
 * A TLS connection as a scoped resource with independent halves.
 *
 * @since 0.1.0
 */
export * as TlsConnection from "./TlsConnection.ts"
/**
 * The typed failures of a TLS connection.
 *
 * @since 0.1.0
 */
export * as TlsError from "./TlsError.ts"
/**
 * Control events of a TLS connection.
 *
 * @since 0.1.0
 */
export * as TlsEvent from "./TlsEvent.ts"
/**
 * The negotiated session.
 *
 * @since 0.1.0
 */
export * as TlsSession from "./TlsSession.ts"
/**
 * The non-blocking byte stream under TLS.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
/**
 * A transport spoken directly, before it is handed to a connection.
 *
 * @since 0.1.0
 */
export * as TransportChannel from "./TransportChannel.ts"
