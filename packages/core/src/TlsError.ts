/**
 * The typed failures of a TLS connection.
 *
 * Every failure the library reports is one of the classes below, each with a
 * `reason` that says what went wrong in words a program can match on, and the
 * original error (a Node error, an OpenSSL code) kept as `cause`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: "~@effect-tls/core/TlsError" = "~@effect-tls/core/TlsError"

/**
 * Why a handshake failed.
 *
 * `PlaintextInjection`: a STARTTLS upgrade found plaintext that the peer sent
 * after the upgrade point and the prologue did not consume (command or
 * response injection); it is neither fed to TLS nor dropped.
 *
 * @since 0.1.0
 * @category models
 */
export type HandshakeFailureReason =
  | "UnknownCa"
  | "CertificateExpired"
  | "CertificateNotYetValid"
  | "HostnameMismatch"
  | "SelfSigned"
  | "CertificateRevoked"
  | "BadCertificate"
  | "PinMismatch"
  | "ProtocolVersion"
  | "NoSharedCipher"
  | "NoApplicationProtocol"
  | "PeerCertificateRequired"
  | "AlertReceived"
  | "Timeout"
  | "PlaintextInjection"
  | "Other"

/**
 * The handshake did not complete.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsHandshakeError extends Data.TaggedError("TlsHandshakeError")<{
  readonly reason: HandshakeFailureReason
  /** The TLS alert description code, when the failure is or caused an alert. */
  readonly alert?: number | undefined
  /** The library's or OpenSSL's error code (for example `CERT_HAS_EXPIRED`). */
  readonly code?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("handshake failed", this.reason, this.code, this.detail)
  }
}

/**
 * Why the transport (the byte stream under TLS) failed.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportFailureReason = "ConnectionRefused" | "ConnectionReset" | "HostNotFound" | "Timeout" | "Other"

/**
 * The transport failed: it could not be opened, or it broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsTransportError extends Data.TaggedError("TlsTransportError")<{
  readonly reason: TransportFailureReason
  readonly code?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("transport failed", this.reason, this.code, this.detail)
  }
}

/**
 * Why an established connection failed at the TLS layer.
 *
 * @since 0.1.0
 * @category models
 */
export type ProtocolFailureReason =
  | "BadRecordMac"
  | "UnexpectedMessage"
  | "DecodeError"
  | "RecordOverflow"
  | "AlertReceived"
  | "RenegotiationRefused"
  | "Other"

/**
 * The TLS protocol failed after the handshake. The connection is closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsProtocolError extends Data.TaggedError("TlsProtocolError")<{
  readonly reason: ProtocolFailureReason
  readonly alert?: number | undefined
  readonly code?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("protocol failure", this.reason, this.code, this.detail)
  }
}

/**
 * The transport ended without a close_notify from the peer: the data read so
 * far may be cut short by an attacker or a broken peer, and is not a clean end.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsTruncationError extends Data.TaggedError("TlsTruncationError")<{
  readonly reason: "EndWithoutCloseNotify"
  readonly detail?: string | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("truncated", this.reason, undefined, this.detail)
  }
}

/**
 * Why an operation was refused because of the connection's state.
 *
 * - `WriteAfterEnd`: the write half was ended (close_notify sent or queued).
 * - `ConnectionClosed`: the connection's scope closed.
 * - `FrameTooLong`: a delimited read found no delimiter within its byte bound.
 * - `EndOfStream`: an exact read needed more bytes than arrived before a clean end.
 * - `Stalled`: `flush` or `end` waited for the transport to take bytes, and it
 *   took none within the stall bound (the connection's `closeTimeout`); the
 *   connection is unchanged and the bytes are still queued.
 *
 * @since 0.1.0
 * @category models
 */
export type StateFailureReason = "WriteAfterEnd" | "ConnectionClosed" | "FrameTooLong" | "EndOfStream" | "Stalled"

/**
 * The operation cannot be performed in the connection's current state.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsStateError extends Data.TaggedError("TlsStateError")<{
  readonly reason: StateFailureReason
  readonly detail?: string | undefined
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("invalid state", this.reason, undefined, this.detail)
  }
}

/**
 * The options given were invalid (a bad certificate file, a contradictory
 * setting). Raised before any byte is sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsConfigError extends Data.TaggedError("TlsConfigError")<{
  readonly reason: "InvalidOption" | "InvalidCredentials"
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe("invalid configuration", this.reason, undefined, this.detail)
  }
}

/**
 * The JavaScript runtime cannot run the chosen path safely: its `node:tls`,
 * `net` or `stream` lacks a behaviour the path relies on, and using it
 * would lose data or hang instead of failing. Raised before any byte is
 * sent, naming the runtime, its version, the path and what is missing; the
 * guide's runtime page (`docs/runtimes.md`) lists every case with a minimal
 * reproduction.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsRuntimeError extends Data.TaggedError("TlsRuntimeError")<{
  readonly reason: "PathUnsupported"
  /** The runtime, as `process.versions` names it: `"node"`, `"bun"` or `"deno"`. */
  readonly runtime: string
  /** Its version (`1.4.4`). */
  readonly version: string
  /** The path refused. */
  readonly path: "native" | "duplex"
  /** What the runtime does not do that the path needs. */
  readonly detail: string
}> {
  /** @since 0.1.0 */
  readonly [TypeId]: typeof TypeId = TypeId
  /** @since 0.1.0 */
  override get message(): string {
    return describe(
      `the ${this.path} path cannot run on ${this.runtime} ${this.version}`,
      this.reason,
      undefined,
      this.detail
    )
  }
}

/**
 * Any failure of a TLS connection.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsError =
  | TlsHandshakeError
  | TlsTransportError
  | TlsProtocolError
  | TlsTruncationError
  | TlsStateError
  | TlsConfigError
  | TlsRuntimeError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTlsError = (u: unknown): u is TlsError => Predicate.hasProperty(u, TypeId)

/**
 * Whether the error ends the connection (everything but a refused operation).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFatal = (error: TlsError): boolean =>
  error._tag !== "TlsStateError" || error.reason === "ConnectionClosed"

const describe = (what: string, reason: string, code: string | undefined, detail: string | undefined): string =>
  `${what}: ${reason}${code === undefined ? "" : ` (${code})`}${detail === undefined ? "" : `: ${detail}`}`
