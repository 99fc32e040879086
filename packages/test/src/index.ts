/**
 * Test support for effect-tls.
 *
 * @since 0.1.0
 */

/**
 * Adversarial scheduling for tests: several scheduling budgets, seeded random
 * interruption points, a printed seed to replay a failure.
 *
 * @since 0.1.0
 */
export * as Adversarial from "./Adversarial.ts"

/**
 * A throwaway public key infrastructure for tests: root and intermediate CAs,
 * server and client leaves, and the bad certificates a TLS stack must reject.
 *
 * @since 0.1.0
 */
export * as CertificateAuthority from "./CertificateAuthority.ts"

/**
 * The conformance suite of the connection contract, run against any implementation.
 *
 * @since 0.1.0
 */
export * as Conformance from "./Conformance.ts"

/**
 * A transport wrapper that injects faults (chunking, delay, stall, reset,
 * truncation, flipped and injected bytes) in either direction.
 *
 * @since 0.1.0
 */
export * as FaultTransport from "./FaultTransport.ts"

/**
 * An engine without framing or cryptography (plaintext == ciphertext), for overhead measurements.
 *
 * @since 0.1.0
 */
export * as IdentityEngine from "./IdentityEngine.ts"

/**
 * An in-memory pair of bounded transports with manual control of the wire.
 *
 * @since 0.1.0
 */
export * as MemoryTransport from "./MemoryTransport.ts"

/**
 * A deterministic fake TLS engine with test hooks.
 *
 * @since 0.1.0
 */
export * as ScriptedEngine from "./ScriptedEngine.ts"

/**
 * A connected client/server pair over the in-memory transport, in one line.
 *
 * @since 0.1.0
 */
export * as TestPair from "./TestPair.ts"
