/**
 * The typed failures of a TLS connection, in Effect's own shape (as
 * `effect/socket/Socket`'s `SocketError` and `effect/PlatformError`'s
 * `PlatformError`): six error classes, one per kind of failure, each with a
 * `reason` that is itself a tagged class saying what went wrong. The original
 * error (a Node error, an OpenSSL failure) is the reason's `cause`, and the
 * error's too.
 *
 * Match on the class with `Effect.catchTag`, on the reason with
 * `Effect.catchReason` (the handler gets the reason, and the error narrowed
 * to it) or `Effect.catchReasons`:
 *
 * @example
 * ```ts
 * import type { TlsError } from "@effect-tls/core/TlsError"
 * import * as Effect from "effect/Effect"
 *
 * declare const connect: Effect.Effect<string, TlsError>
 *
 * // An untrusted certificate becomes a value; every other failure stays one.
 * export const probe = connect.pipe(
 *   Effect.catchReason("TlsHandshakeError", "UnknownCa", (reason) => Effect.succeed(`untrusted: ${reason.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: "~@effect-tls/core/TlsError" = "~@effect-tls/core/TlsError"

// -----------------------------------------------------------------------------
// reasons
// -----------------------------------------------------------------------------

/**
 * What every reason may carry besides its tag.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReasonFields {
  /** The library's, Node's or OpenSSL's error code (for example `CERT_HAS_EXPIRED`). */
  readonly code?: string | undefined
  /** What happened, for people. */
  readonly detail?: string | undefined
  /** The original error. */
  readonly cause?: unknown
}

/**
 * The fields of a reason of a TLS failure: those of every reason and the TLS
 * alert it was, or caused.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsReasonFields extends ReasonFields {
  /** The TLS alert description (RFC 8446 section 6), when the failure is or caused an alert. */
  readonly alert?: number | undefined
}

/**
 * A reason class's constructor: generic in the fields, as `Data.TaggedError`'s
 * is, so that one base serves reasons with different fields.
 */
type ReasonClass<Tag extends string> = new <A extends ReasonFields = ReasonFields>(
  fields: A
) => Cause.YieldableError & { readonly _tag: Tag } & Readonly<A>

/**
 * The base of the reason classes: a tagged error whose `message` is its tag,
 * its code and its detail (`UnknownCa (UNABLE_TO_GET_ISSUER_CERT): ...`).
 */
const Reason = <Tag extends string>(tag: Tag): ReasonClass<Tag> => {
  class Base extends Data.TaggedError(tag)<ReasonFields> {
    override get message(): string {
      return describe(this._tag, this.code, this.detail)
    }
  }
  // A class expression cannot be generic in the fields of its base (its
  // members must be known statically); every instance has the fields it was
  // made with, which is what the generic signature says.
  return Base as ReasonClass<Tag>
}

const describe = (what: string, code: string | undefined, detail: string | undefined): string =>
  `${what}${code === undefined ? "" : ` (${code})`}${detail === undefined ? "" : `: ${detail}`}`

/**
 * The peer's chain does not lead to a trusted root (`ca`, or the system store).
 *
 * @since 0.1.0
 * @category reasons
 */
export class UnknownCa extends Reason("UnknownCa")<TlsReasonFields> {}

/**
 * A certificate of the chain is past its validity.
 *
 * @since 0.1.0
 * @category reasons
 */
export class CertificateExpired extends Reason("CertificateExpired")<TlsReasonFields> {}

/**
 * A certificate of the chain is not valid yet (or a clock is behind).
 *
 * @since 0.1.0
 * @category reasons
 */
export class CertificateNotYetValid extends Reason("CertificateNotYetValid")<TlsReasonFields> {}

/**
 * The certificate does not name the host (or `servername`).
 *
 * @since 0.1.0
 * @category reasons
 */
export class HostnameMismatch extends Reason("HostnameMismatch")<TlsReasonFields> {}

/**
 * A self-signed leaf, or a self-signed root that is not trusted.
 *
 * @since 0.1.0
 * @category reasons
 */
export class SelfSigned extends Reason("SelfSigned")<TlsReasonFields> {}

/**
 * A certificate of the chain was revoked.
 *
 * @since 0.1.0
 * @category reasons
 */
export class CertificateRevoked extends Reason("CertificateRevoked")<TlsReasonFields> {}

/**
 * A certificate unfit for its use: a wrong key usage, a bad signature, a path
 * too long, a field that does not decode.
 *
 * @since 0.1.0
 * @category reasons
 */
export class BadCertificate extends Reason("BadCertificate")<TlsReasonFields> {}

/**
 * The server's public key is not one of `pinnedSpkiSha256`.
 *
 * @since 0.1.0
 * @category reasons
 */
export class PinMismatch extends Reason("PinMismatch")<TlsReasonFields> {}

/**
 * The two sides have no TLS version in common.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ProtocolVersion extends Reason("ProtocolVersion")<TlsReasonFields> {}

/**
 * The two sides have no cipher suite or key exchange group in common.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoSharedCipher extends Reason("NoSharedCipher")<TlsReasonFields> {}

/**
 * The two sides have no ALPN protocol in common.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoApplicationProtocol extends Reason("NoApplicationProtocol")<TlsReasonFields> {}

/**
 * The server requires a client certificate and got none (on the server: the
 * client sent none).
 *
 * @since 0.1.0
 * @category reasons
 */
export class PeerCertificateRequired extends Reason("PeerCertificateRequired")<TlsReasonFields> {}

/**
 * The peer sent a fatal alert; `alert` holds its description.
 *
 * @since 0.1.0
 * @category reasons
 */
export class AlertReceived extends Reason("AlertReceived")<TlsReasonFields & { readonly alert: number }> {}

/**
 * A bound passed: the handshake's (`handshakeTimeout`), the TCP connect's
 * (`connectTimeout`), the server's idle bound (`idleTimeout`), or a STARTTLS
 * prologue's wait.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Timeout extends Reason("Timeout")<ReasonFields> {}

/**
 * A STARTTLS upgrade found plaintext that the peer sent after the upgrade
 * point and the prologue did not consume (command or response injection); it
 * is neither fed to TLS nor dropped.
 *
 * @since 0.1.0
 * @category reasons
 */
export class PlaintextInjection extends Reason("PlaintextInjection")<ReasonFields> {}

/**
 * The peer does not speak TLS: its first bytes are not a TLS record (a wrong
 * port, or a plaintext service). `protocol` names the plaintext protocol when
 * the bytes show it (`HTTP`, `SMTP`, ...), and `excerpt` holds the start of
 * what the peer sent, in printable ASCII, where it was seen.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NotTls extends Reason("NotTls")<
  ReasonFields & {
    readonly protocol?: string | undefined
    readonly excerpt?: string | undefined
  }
> {}

/**
 * A failure with no reason of its own: `code` and `detail` say what it was.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Other extends Reason("Other")<TlsReasonFields> {}

/**
 * The connection was refused: nothing listens there.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ConnectionRefused extends Reason("ConnectionRefused")<ReasonFields> {}

/**
 * The peer or a middlebox reset the connection, or it closed in the middle.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ConnectionReset extends Reason("ConnectionReset")<ReasonFields> {}

/**
 * The host name did not resolve.
 *
 * @since 0.1.0
 * @category reasons
 */
export class HostNotFound extends Reason("HostNotFound")<ReasonFields> {}

/**
 * A record failed authentication: corruption or tampering on the wire.
 *
 * @since 0.1.0
 * @category reasons
 */
export class BadRecordMac extends Reason("BadRecordMac")<TlsReasonFields> {}

/**
 * A message out of order.
 *
 * @since 0.1.0
 * @category reasons
 */
export class UnexpectedMessage extends Reason("UnexpectedMessage")<TlsReasonFields> {}

/**
 * A malformed message or record length.
 *
 * @since 0.1.0
 * @category reasons
 */
export class DecodeError extends Reason("DecodeError")<TlsReasonFields> {}

/**
 * A record longer than TLS allows.
 *
 * @since 0.1.0
 * @category reasons
 */
export class RecordOverflow extends Reason("RecordOverflow")<TlsReasonFields> {}

/**
 * The peer tried TLS 1.2 renegotiation, which is refused.
 *
 * @since 0.1.0
 * @category reasons
 */
export class RenegotiationRefused extends Reason("RenegotiationRefused")<TlsReasonFields> {}

/**
 * The transport ended without the peer's close_notify.
 *
 * @since 0.1.0
 * @category reasons
 */
export class EndWithoutCloseNotify extends Reason("EndWithoutCloseNotify")<ReasonFields> {}

/**
 * A write after the write half was ended (close_notify sent or queued).
 *
 * @since 0.1.0
 * @category reasons
 */
export class WriteAfterEnd extends Reason("WriteAfterEnd")<ReasonFields> {}

/**
 * The connection's scope closed: every operation after it, or waiting when it
 * closed, fails with this.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ConnectionClosed extends Reason("ConnectionClosed")<ReasonFields> {}

/**
 * A delimited read found no delimiter within its byte bound; nothing was consumed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class FrameTooLong extends Reason("FrameTooLong")<ReasonFields> {}

/**
 * A read needed more bytes than arrived before a clean end; nothing was consumed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class EndOfStream extends Reason("EndOfStream")<ReasonFields> {}

/**
 * `flush` or `end` waited for the transport to take bytes, and it took none
 * within the stall bound (the connection's `closeTimeout`); the connection is
 * unchanged and the bytes are still queued.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Stalled extends Reason("Stalled")<ReasonFields> {}

/**
 * An option is invalid: `path` names it (`connection.handshakeTimeout`,
 * `credentials[0].cert`), `value` is what was given (absent for a secret),
 * `expected` what is allowed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidOption extends Data.TaggedError("InvalidOption")<{
  readonly path: string
  readonly expected: string
  readonly value?: unknown
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.path}: expected ${this.expected}${"value" in this ? `, got ${formatValue(this.value)}` : ""}`
  }
}

/**
 * A certificate, key or CA bundle that cannot serve: it does not parse, the
 * key does not match its certificate, the passphrase is missing or wrong.
 * `path` names the option (`credentials[0].key`), `detail` says why; the key
 * itself is never shown.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidCredentials extends Data.TaggedError("InvalidCredentials")<{
  readonly path: string
  readonly detail: string
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.path}: ${this.detail}${this.code === undefined ? "" : ` (${this.code})`}`
  }
}

/**
 * An argument of an operation is invalid (`readExactly(-1)`,
 * `readUntil("")`); the connection is unchanged.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  /** The operation and its argument, as in `readExactly(n)`. */
  readonly argument: string
  readonly expected: string
  readonly value: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.argument}: expected ${this.expected}, got ${formatValue(this.value)}`
  }
}

/** A value in a message: strings quoted and cut short, the rest as JSON where it can be. */
const formatValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" || value === undefined) {
    return String(value)
  }
  if (typeof value === "function") return "a function"
  try {
    const json = JSON.stringify(value)
    return json === undefined ? String(value) : json.length > 80 ? `${json.slice(0, 77)}...` : json
  } catch {
    return String(value)
  }
}

/**
 * Why a handshake failed.
 *
 * @since 0.1.0
 * @category models
 */
export type HandshakeFailureReason =
  | UnknownCa
  | CertificateExpired
  | CertificateNotYetValid
  | HostnameMismatch
  | SelfSigned
  | CertificateRevoked
  | BadCertificate
  | PinMismatch
  | ProtocolVersion
  | NoSharedCipher
  | NoApplicationProtocol
  | PeerCertificateRequired
  | AlertReceived
  | Timeout
  | PlaintextInjection
  | NotTls
  | Other

/**
 * Why the transport (the byte stream under TLS) failed.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportFailureReason = ConnectionRefused | ConnectionReset | HostNotFound | Timeout | Other

/**
 * Why an established connection failed at the TLS layer.
 *
 * @since 0.1.0
 * @category models
 */
export type ProtocolFailureReason =
  | BadRecordMac
  | UnexpectedMessage
  | DecodeError
  | RecordOverflow
  | AlertReceived
  | RenegotiationRefused
  | Other

/**
 * Why the stream is cut short.
 *
 * @since 0.1.0
 * @category models
 */
export type TruncationReason = EndWithoutCloseNotify

/**
 * Why an operation was refused because of the connection's state.
 *
 * @since 0.1.0
 * @category models
 */
export type StateFailureReason = WriteAfterEnd | ConnectionClosed | FrameTooLong | EndOfStream | Stalled

/**
 * Why the options or arguments given were refused.
 *
 * @since 0.1.0
 * @category models
 */
export type ConfigFailureReason = InvalidOption | InvalidCredentials | InvalidArgument

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** What a reason is to the error that carries it. */
interface AnyReason {
  readonly _tag: string
  readonly message: string
  readonly cause?: unknown
}

/** An error class's constructor: generic in its reason, as {@link ReasonClass} is in its fields. */
type TlsErrorClass<Tag extends string> = new <R extends AnyReason>(props: {
  readonly reason: R
}) => Cause.YieldableError & {
  readonly _tag: Tag
  readonly reason: R
  readonly [TypeId]: typeof TypeId
}

/**
 * The base of the error classes: a tagged error of the library (`TypeId`)
 * with a reason, whose cause it shares, and a message made of what failed and
 * the reason's message.
 */
const TlsErrorClass = <Tag extends string>(tag: Tag, what: string): TlsErrorClass<Tag> => {
  class Base extends Data.TaggedError(tag)<{ readonly reason: AnyReason; readonly cause?: unknown }> {
    readonly [TypeId]: typeof TypeId = TypeId
    constructor(props: { readonly reason: AnyReason }) {
      const reason = props.reason
      super(reason.cause === undefined ? { reason } : { reason, cause: reason.cause })
    }
    override get message(): string {
      return `${what}: ${this.reason.message}`
    }
  }
  // As for `Reason`: the generic signature says which reasons an error class carries.
  return Base as TlsErrorClass<Tag>
}

/**
 * The handshake did not complete.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsHandshakeError extends TlsErrorClass("TlsHandshakeError", "handshake failed")<HandshakeFailureReason> {}

/**
 * The transport failed: it could not be opened, or it broke.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsTransportError extends TlsErrorClass("TlsTransportError", "transport failed")<TransportFailureReason> {}

/**
 * The TLS protocol failed after the handshake. The connection is closed.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsProtocolError extends TlsErrorClass("TlsProtocolError", "protocol failure")<ProtocolFailureReason> {}

/**
 * The transport ended without a close_notify from the peer: the data read so
 * far may be cut short by an attacker or a broken peer, and is not a clean end.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsTruncationError extends TlsErrorClass("TlsTruncationError", "truncated")<TruncationReason> {}

/**
 * The operation cannot be performed in the connection's current state.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsStateError extends TlsErrorClass("TlsStateError", "invalid state")<StateFailureReason> {}

/**
 * The options or arguments given were invalid (a duration that is not one, a
 * port out of range, a certificate that does not parse, a contradictory
 * setting). Options are refused before any byte is sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsConfigError extends TlsErrorClass("TlsConfigError", "invalid configuration")<ConfigFailureReason> {}

/**
 * This runtime's `node:tls`, `net` or `stream` lacks a behaviour the path
 * relies on (`detail` says which), so that using it would lose data or hang
 * instead of failing. The guide's runtime page (`docs/runtimes.md`) lists
 * every case with a reproduction.
 *
 * @since 0.1.0
 * @category reasons
 */
export class PathUnsupported extends Data.TaggedError("PathUnsupported")<{
  /** The runtime, as `Runtime.current` names it: `"node"`, `"bun"` or `"deno"`. */
  readonly runtime: string
  /** Its version (`1.4.4`). */
  readonly version: string
  /** The path refused. */
  readonly path: "native" | "duplex"
  /** What the runtime does not do that the path needs. */
  readonly detail: string
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `PathUnsupported: the ${this.path} path cannot run on ${this.runtime} ${this.version}: ${this.detail}`
  }
}

/**
 * Why the runtime cannot run what was asked.
 *
 * @since 0.1.0
 * @category models
 */
export type RuntimeFailureReason = PathUnsupported

/**
 * The JavaScript runtime cannot run the chosen path safely. Raised before
 * any byte is sent, by `connect`, `serve`, a client's or acceptor's `make`
 * and every upgrade; the reason names the runtime, its version, the path and
 * what is missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsRuntimeError extends TlsErrorClass("TlsRuntimeError", "runtime unsupported")<RuntimeFailureReason> {}

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
 * Whether the error ends the connection: everything but a refused operation
 * (a `TlsStateError` other than `ConnectionClosed`, an `InvalidArgument`),
 * after which the connection is unchanged.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFatal = (error: TlsError): boolean => {
  switch (error._tag) {
    case "TlsStateError":
      return error.reason._tag === "ConnectionClosed"
    case "TlsConfigError":
      return error.reason._tag !== "InvalidArgument"
    default:
      return true
  }
}
