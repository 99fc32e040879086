/**
 * Classification of Node.js and OpenSSL errors into the typed failures of
 * `@effect-tls/core` (DESIGN.md section 3, point 9).
 *
 * Node reports verification failures with OpenSSL's X509 verify codes
 * (`CERT_HAS_EXPIRED`), TLS failures with `ERR_SSL_<REASON>` codes built from
 * OpenSSL's reason strings (`ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE` for a
 * received bad_certificate alert), its own failures with `ERR_TLS_*`, and
 * socket failures with errno names (`ECONNRESET`).
 */
import * as TlsError from "@effect-tls/core/TlsError"

/** TLS alert descriptions (RFC 8446 section 6, RFC 5246 section 7.2) by OpenSSL's reason name. */
const alertNumbers: Record<string, number> = {
  CLOSE_NOTIFY: 0,
  UNEXPECTED_MESSAGE: 10,
  BAD_RECORD_MAC: 20,
  DECRYPTION_FAILED: 21,
  RECORD_OVERFLOW: 22,
  DECOMPRESSION_FAILURE: 30,
  HANDSHAKE_FAILURE: 40,
  NO_CERTIFICATE: 41,
  BAD_CERTIFICATE: 42,
  UNSUPPORTED_CERTIFICATE: 43,
  CERTIFICATE_REVOKED: 44,
  CERTIFICATE_EXPIRED: 45,
  CERTIFICATE_UNKNOWN: 46,
  ILLEGAL_PARAMETER: 47,
  UNKNOWN_CA: 48,
  ACCESS_DENIED: 49,
  DECODE_ERROR: 50,
  DECRYPT_ERROR: 51,
  EXPORT_RESTRICTION: 60,
  PROTOCOL_VERSION: 70,
  INSUFFICIENT_SECURITY: 71,
  INTERNAL_ERROR: 80,
  INAPPROPRIATE_FALLBACK: 86,
  USER_CANCELLED: 90,
  NO_RENEGOTIATION: 100,
  MISSING_EXTENSION: 109,
  UNSUPPORTED_EXTENSION: 110,
  CERTIFICATE_UNOBTAINABLE: 111,
  UNRECOGNIZED_NAME: 112,
  BAD_CERTIFICATE_STATUS_RESPONSE: 113,
  BAD_CERTIFICATE_HASH_VALUE: 114,
  UNKNOWN_PSK_IDENTITY: 115,
  CERTIFICATE_REQUIRED: 116,
  NO_APPLICATION_PROTOCOL: 120
}

const alertCode = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/
const alertInMessage = /alert number (\d+)/

/**
 * The alert description a peer sent, when the error is about a received
 * alert: from the code (`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA` -> 48) or from
 * OpenSSL's message (`SSL alert number 48`).
 */
export const receivedAlert = (code: string | undefined, message: string): number | undefined => {
  const match = code === undefined ? null : alertCode.exec(code)
  if (match !== null) {
    const name = match[1] ?? ""
    const known = alertNumbers[name]
    if (known !== undefined) return known
  }
  const inMessage = alertInMessage.exec(message)
  return inMessage === null ? undefined : Number(inMessage[1])
}

type Fields = TlsError.TlsReasonFields

/** Socket and resolver error codes (errno names, Node's own), by transport failure. */
const transportReasons: Record<string, new (fields: Fields) => TlsError.TransportFailureReason> = {
  ECONNREFUSED: TlsError.ConnectionRefused,
  ECONNRESET: TlsError.ConnectionReset,
  EPIPE: TlsError.ConnectionReset,
  ECONNABORTED: TlsError.ConnectionReset,
  ETIMEDOUT: TlsError.Timeout,
  ENOTFOUND: TlsError.HostNotFound,
  EAI_AGAIN: TlsError.HostNotFound,
  EAI_NONAME: TlsError.HostNotFound,
  EAI_FAIL: TlsError.HostNotFound,
  EHOSTUNREACH: TlsError.Other,
  ENETUNREACH: TlsError.Other,
  EADDRNOTAVAIL: TlsError.Other,
  ERR_SOCKET_CLOSED: TlsError.ConnectionReset,
  ERR_STREAM_PREMATURE_CLOSE: TlsError.ConnectionReset
}

const certificateReasons: Record<string, new (fields: Fields) => TlsError.HandshakeFailureReason> = {
  CERT_HAS_EXPIRED: TlsError.CertificateExpired,
  CERT_NOT_YET_VALID: TlsError.CertificateNotYetValid,
  ERR_TLS_CERT_ALTNAME_INVALID: TlsError.HostnameMismatch,
  DEPTH_ZERO_SELF_SIGNED_CERT: TlsError.SelfSigned,
  SELF_SIGNED_CERT_IN_CHAIN: TlsError.SelfSigned,
  UNABLE_TO_GET_ISSUER_CERT: TlsError.UnknownCa,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: TlsError.UnknownCa,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: TlsError.UnknownCa,
  CERT_REVOKED: TlsError.CertificateRevoked,
  INVALID_PURPOSE: TlsError.BadCertificate,
  CERT_SIGNATURE_FAILURE: TlsError.BadCertificate,
  CERT_UNTRUSTED: TlsError.BadCertificate,
  CERT_REJECTED: TlsError.BadCertificate,
  INVALID_CA: TlsError.BadCertificate,
  PATH_LENGTH_EXCEEDED: TlsError.BadCertificate,
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: TlsError.BadCertificate,
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: TlsError.BadCertificate,
  ERROR_IN_CERT_NOT_BEFORE_FIELD: TlsError.BadCertificate,
  ERROR_IN_CERT_NOT_AFTER_FIELD: TlsError.BadCertificate,
  HOSTNAME_MISMATCH: TlsError.HostnameMismatch,
  ERR_SSL_UNSUPPORTED_PROTOCOL: TlsError.ProtocolVersion,
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: TlsError.ProtocolVersion,
  ERR_SSL_VERSION_TOO_LOW: TlsError.ProtocolVersion,
  ERR_SSL_VERSION_TOO_HIGH: TlsError.ProtocolVersion,
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: TlsError.ProtocolVersion,
  ERR_SSL_NO_SHARED_CIPHER: TlsError.NoSharedCipher,
  ERR_SSL_NO_CIPHERS_AVAILABLE: TlsError.NoSharedCipher,
  ERR_SSL_NO_SUITABLE_KEY_SHARE: TlsError.NoSharedCipher,
  ERR_SSL_NO_SHARED_GROUPS: TlsError.NoSharedCipher,
  ERR_SSL_NO_APPLICATION_PROTOCOL: TlsError.NoApplicationProtocol,
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: TlsError.NoApplicationProtocol,
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: TlsError.PeerCertificateRequired,
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: TlsError.PeerCertificateRequired,
  ERR_TLS_HANDSHAKE_TIMEOUT: TlsError.Timeout
}

const protocolReasons: Record<string, new (fields: Fields) => TlsError.ProtocolFailureReason> = {
  ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC: TlsError.BadRecordMac,
  ERR_SSL_BAD_RECORD_MAC: TlsError.BadRecordMac,
  ERR_SSL_DECRYPTION_FAILED: TlsError.BadRecordMac,
  ERR_SSL_UNEXPECTED_MESSAGE: TlsError.UnexpectedMessage,
  ERR_SSL_UNEXPECTED_RECORD: TlsError.UnexpectedMessage,
  ERR_SSL_BAD_RECORD_TYPE: TlsError.UnexpectedMessage,
  ERR_SSL_UNEXPECTED_EOF_WHILE_READING: TlsError.UnexpectedMessage,
  ERR_SSL_WRONG_VERSION_NUMBER: TlsError.UnexpectedMessage,
  ERR_SSL_RECORD_OVERFLOW: TlsError.RecordOverflow,
  ERR_SSL_PACKET_LENGTH_TOO_LONG: TlsError.RecordOverflow,
  ERR_SSL_ENCRYPTED_LENGTH_TOO_LONG: TlsError.RecordOverflow,
  ERR_SSL_DATA_LENGTH_TOO_LONG: TlsError.RecordOverflow,
  ERR_SSL_RECORD_LENGTH_MISMATCH: TlsError.DecodeError,
  ERR_SSL_LENGTH_MISMATCH: TlsError.DecodeError,
  ERR_SSL_BAD_PACKET_LENGTH: TlsError.DecodeError,
  ERR_SSL_BAD_LENGTH: TlsError.DecodeError,
  ERR_SSL_DECODE_ERROR: TlsError.DecodeError,
  ERR_SSL_NO_RENEGOTIATION: TlsError.RenegotiationRefused,
  ERR_TLS_RENEGOTIATION_DISABLED: TlsError.RenegotiationRefused,
  ERR_TLS_SESSION_ATTACK: TlsError.RenegotiationRefused,
  ERR_SSL_UNSAFE_LEGACY_RENEGOTIATION_DISABLED: TlsError.RenegotiationRefused
}

/** The `code` of a Node error, when it has one. */
export const errorCode = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined
  const code = (error as { readonly code: unknown }).code
  return typeof code === "string" ? code : undefined
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/**
 * Classifies an error of a plain socket (no TLS on it): any code not known as
 * a transport failure is `Other`. `during` prefixes the detail (`connect to
 * host:port`).
 */
export const transportError = (error: unknown, during?: string): TlsError.TlsTransportError => {
  const code = errorCode(error)
  const message = errorMessage(error)
  const Reason = (code === undefined ? undefined : transportReasons[code]) ?? TlsError.Other
  return new TlsError.TlsTransportError({
    reason: new Reason({ code, detail: during === undefined ? message : `${during}: ${message}`, cause: error })
  })
}

/**
 * Classifies an error raised by a TLSSocket or its transport.
 *
 * `established` says whether the handshake had completed: the same OpenSSL
 * code is a handshake failure before and a protocol failure after. A received
 * alert keeps its description in `alert`; a specific reason (protocol version,
 * no application protocol, certificate required) wins over `AlertReceived`.
 */
export const fromNodeError = (
  error: unknown,
  established: boolean,
  firstBytes?: Uint8Array | undefined
): TlsError.TlsError => {
  const code = errorCode(error)
  const detail = errorMessage(error)
  if (code !== undefined && transportReasons[code] !== undefined) return transportError(error)
  const alert = receivedAlert(code, detail)
  const fields = { alert, code, detail, cause: error }
  if (!established) {
    const notTls = notTlsReason(code, firstBytes, error)
    if (notTls !== undefined) return new TlsError.TlsHandshakeError({ reason: notTls })
    const Reason = code === undefined ? undefined : certificateReasons[code]
    return new TlsError.TlsHandshakeError({ reason: Reason === undefined ? alertReason(fields) : new Reason(fields) })
  }
  const Reason = code === undefined ? undefined : protocolReasons[code]
  return new TlsError.TlsProtocolError({
    reason:
      Reason !== undefined
        ? new Reason(fields)
        : alert === 100
          ? new TlsError.RenegotiationRefused(fields)
          : alert !== undefined
            ? new TlsError.AlertReceived({ ...fields, alert })
            : new TlsError.Other(fields)
  })
}

/**
 * The alerts a TLS 1.3 server sends when it refuses the client's certificate
 * (or its absence): handshake_failure, bad_certificate,
 * unsupported_certificate, certificate_revoked, certificate_expired,
 * certificate_unknown, unknown_ca, access_denied, decrypt_error (a bad
 * CertificateVerify) and certificate_required.
 */
const clientCertificateVerdicts: ReadonlySet<number> = new Set([40, 42, 43, 44, 45, 46, 48, 49, 51, 116])

/**
 * A failure of a TLS 1.3 client before it received any application data,
 * reclassified if it is the server's verdict on the client's certificate. In
 * TLS 1.3 the client's handshake completes when it sends its certificate, so
 * the server's refusal arrives as an alert after it: the handshake failed
 * (`PeerCertificateRequired` for certificate_required, `AlertReceived` with
 * the alert otherwise), although the client saw it complete. Any other
 * failure is unchanged.
 */
export const clientCertificateVerdict = (error: TlsError.TlsError): TlsError.TlsError => {
  if (error._tag !== "TlsProtocolError" || error.reason._tag !== "AlertReceived") return error
  const reason = error.reason
  if (!clientCertificateVerdicts.has(reason.alert)) return error
  const fields = {
    alert: reason.alert,
    code: reason.code,
    detail: `the server refused the client's certificate after the TLS 1.3 handshake (alert ${reason.alert})${
      reason.detail === undefined ? "" : `: ${reason.detail}`
    }`,
    cause: reason.cause
  }
  return new TlsError.TlsHandshakeError({
    reason:
      reason.alert === 116
        ? new TlsError.PeerCertificateRequired(fields)
        : new TlsError.AlertReceived({ ...fields, alert: reason.alert })
  })
}

/** The reason of a handshake failure that is known only by the alert it was, if any. */
const alertReason = (fields: Fields): TlsError.HandshakeFailureReason => {
  switch (fields.alert) {
    case undefined:
      return new TlsError.Other(fields)
    case 70:
      return new TlsError.ProtocolVersion(fields)
    case 120:
      return new TlsError.NoApplicationProtocol(fields)
    case 116:
      return new TlsError.PeerCertificateRequired(fields)
    default:
      return new TlsError.AlertReceived({ ...fields, alert: fields.alert })
  }
}

// -----------------------------------------------------------------------------
// a peer that does not speak TLS
// -----------------------------------------------------------------------------

/**
 * OpenSSL's verdicts on a first record that is not TLS at all: its header
 * does not carry TLS's major version 3 (the first record is checked for that
 * alone, so a TLS peer of any version passes), or, on a server, it begins
 * like an HTTP request or an HTTPS proxy's CONNECT.
 */
const notTlsCodes: ReadonlySet<string> = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_HTTPS_PROXY_REQUEST"
])

/** Plaintext protocols told by their first bytes, and how the detail says it. */
const plaintextProtocols: ReadonlyArray<{
  readonly pattern: RegExp
  readonly protocol: string
  readonly says: string
}> = [
  { pattern: /^HTTP\/\d/, protocol: "HTTP", says: "the peer answered in plaintext HTTP" },
  {
    pattern: /^(?:GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT) \S/,
    protocol: "HTTP",
    says: "the peer sent a plaintext HTTP request"
  },
  { pattern: /^220[ -]/, protocol: "SMTP", says: "the peer greeted in plaintext, as an SMTP (or FTP) server does" },
  { pattern: /^(?:EHLO|HELO) /i, protocol: "SMTP", says: "the peer sent a plaintext SMTP command" },
  { pattern: /^SSH-\d/, protocol: "SSH", says: "the peer greeted as an SSH server" },
  { pattern: /^\+OK/, protocol: "POP3", says: "the peer greeted in plaintext, as a POP3 server does" },
  { pattern: /^\* OK/, protocol: "IMAP", says: "the peer greeted in plaintext, as an IMAP server does" }
]

/** What OpenSSL's code says when no bytes are at hand (the native path). */
const codeSays: Readonly<Record<string, { readonly protocol?: string; readonly says: string }>> = {
  ERR_SSL_HTTP_REQUEST: { protocol: "HTTP", says: "the peer sent a plaintext HTTP request" },
  ERR_SSL_HTTPS_PROXY_REQUEST: {
    protocol: "HTTP",
    says: "the peer sent a plaintext HTTP CONNECT, as to an HTTPS proxy"
  },
  ERR_SSL_WRONG_VERSION_NUMBER: {
    says: "the peer's first bytes are not a TLS record: it does not speak TLS on this port"
  }
}

/** The longest start of the peer's bytes kept in the reason. */
const EXCERPT_BYTES = 48

/**
 * Whether the first record showed a peer that is not TLS, and if so its
 * reason: with the bytes at hand (the duplex path), the protocol they show
 * and an excerpt; without (the native path), what OpenSSL's code says. Bytes
 * that begin like a TLS record (a content type, then major version 3) are a
 * TLS peer, whatever OpenSSL found wrong with them.
 */
const notTlsReason = (
  code: string | undefined,
  firstBytes: Uint8Array | undefined,
  cause: unknown
): TlsError.NotTls | undefined => {
  if (code === undefined || !notTlsCodes.has(code)) return undefined
  if (firstBytes !== undefined && firstBytes.length > 0) {
    if (looksLikeTlsRecord(firstBytes)) return undefined
    const text = Buffer.from(firstBytes).toString("latin1")
    const known = plaintextProtocols.find((entry) => entry.pattern.test(text))
    const excerpt = printable(firstBytes)
    return new TlsError.NotTls({
      protocol: known?.protocol,
      excerpt,
      code,
      detail: `${known?.says ?? "the peer's first bytes are not a TLS record: it does not speak TLS on this port"}: ${JSON.stringify(excerpt)}`,
      cause
    })
  }
  const said = codeSays[code]
  return new TlsError.NotTls({
    protocol: said?.protocol,
    code,
    detail: said?.says ?? "the peer does not speak TLS",
    cause
  })
}

/** A TLS record begins with a content type (20 to 24) and the major version 3. */
const looksLikeTlsRecord = (bytes: Uint8Array): boolean => {
  const type = bytes[0] ?? 0
  return type >= 20 && type <= 24 && (bytes.length < 2 || bytes[1] === 3)
}

/** The first line of the bytes, at most EXCERPT_BYTES of them, other than printable ASCII as `.`. */
const printable = (bytes: Uint8Array): string => {
  let text = ""
  for (const byte of bytes.subarray(0, EXCERPT_BYTES)) {
    if (byte === 0x0d || byte === 0x0a) break
    text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : "."
  }
  return text
}
