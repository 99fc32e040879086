/**
 * Test support for effect-tls.
 *
 * @since 0.1.0
 */

/**
 * A throwaway public key infrastructure for tests: root and intermediate CAs,
 * server and client leaves, and the bad certificates a TLS stack must reject.
 *
 * @since 0.1.0
 */
export * as CertificateAuthority from "./CertificateAuthority.ts"

/**
 * A transport wrapper that injects faults (chunking, delay, stall, reset,
 * truncation, flipped and injected bytes) in either direction.
 *
 * @since 0.1.0
 */
export * as FaultTransport from "./FaultTransport.ts"
