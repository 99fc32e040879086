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
 * TCP on 127.0.0.1 for tests: a listener handing over its sockets, free and closed ports.
 *
 * @since 0.1.0
 */
export * as Loopback from "./Loopback.ts"

/**
 * An in-memory pair of bounded transports with manual control of the wire.
 *
 * @since 0.1.0
 */
export * as MemoryTransport from "./MemoryTransport.ts"

/**
 * Real peers (openssl, gnutls, swaks, any command) in a process group of their own, stopped
 * with the scope; output awaitable by pattern, every wait bounded.
 *
 * @since 0.1.0
 */
export * as Peer from "./Peer.ts"

/**
 * A TCP relay between a client and a server: pause, end or corrupt a direction, reset, edit TLS records.
 *
 * @since 0.1.0
 */
export * as Relay from "./Relay.ts"

/**
 * A deterministic fake TLS engine with test hooks.
 *
 * @since 0.1.0
 */
export * as ScriptedEngine from "./ScriptedEngine.ts"

/**
 * A temporary directory removed with the scope, and the PEM files of an issued certificate.
 *
 * @since 0.1.0
 */
export * as TempFiles from "./TempFiles.ts"

/**
 * A connected client/server pair over the in-memory transport, in one line.
 *
 * @since 0.1.0
 */
export * as TestPair from "./TestPair.ts"

/**
 * The conformance suite's `WireControl` from a memory pair's control or a TCP relay.
 *
 * @since 0.1.0
 */
export * as Wire from "./Wire.ts"
