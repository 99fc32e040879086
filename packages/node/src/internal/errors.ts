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
import {
  type HandshakeFailureReason,
  type ProtocolFailureReason,
  type TlsError,
  TlsHandshakeError,
  TlsProtocolError,
  TlsTransportError,
  type TransportFailureReason
} from "@effect-tls/core/TlsError"

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

/** Socket and resolver error codes (errno names, Node's own), by transport failure. */
const transportReasons: Record<string, TransportFailureReason> = {
  ECONNREFUSED: "ConnectionRefused",
  ECONNRESET: "ConnectionReset",
  EPIPE: "ConnectionReset",
  ECONNABORTED: "ConnectionReset",
  ETIMEDOUT: "Timeout",
  ENOTFOUND: "HostNotFound",
  EAI_AGAIN: "HostNotFound",
  EAI_NONAME: "HostNotFound",
  EAI_FAIL: "HostNotFound",
  EHOSTUNREACH: "Other",
  ENETUNREACH: "Other",
  EADDRNOTAVAIL: "Other",
  ERR_SOCKET_CLOSED: "ConnectionReset",
  ERR_STREAM_PREMATURE_CLOSE: "ConnectionReset"
}

const certificateReasons: Record<string, HandshakeFailureReason> = {
  CERT_HAS_EXPIRED: "CertificateExpired",
  CERT_NOT_YET_VALID: "CertificateNotYetValid",
  ERR_TLS_CERT_ALTNAME_INVALID: "HostnameMismatch",
  DEPTH_ZERO_SELF_SIGNED_CERT: "SelfSigned",
  SELF_SIGNED_CERT_IN_CHAIN: "SelfSigned",
  UNABLE_TO_GET_ISSUER_CERT: "UnknownCa",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "UnknownCa",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "UnknownCa",
  CERT_REVOKED: "CertificateRevoked",
  INVALID_PURPOSE: "BadCertificate",
  CERT_SIGNATURE_FAILURE: "BadCertificate",
  CERT_UNTRUSTED: "BadCertificate",
  CERT_REJECTED: "BadCertificate",
  INVALID_CA: "BadCertificate",
  PATH_LENGTH_EXCEEDED: "BadCertificate",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "BadCertificate",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "BadCertificate",
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "BadCertificate",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "BadCertificate",
  HOSTNAME_MISMATCH: "HostnameMismatch",
  ERR_SSL_UNSUPPORTED_PROTOCOL: "ProtocolVersion",
  ERR_SSL_WRONG_VERSION_NUMBER: "ProtocolVersion",
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: "ProtocolVersion",
  ERR_SSL_VERSION_TOO_LOW: "ProtocolVersion",
  ERR_SSL_VERSION_TOO_HIGH: "ProtocolVersion",
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: "ProtocolVersion",
  ERR_SSL_NO_SHARED_CIPHER: "NoSharedCipher",
  ERR_SSL_NO_CIPHERS_AVAILABLE: "NoSharedCipher",
  ERR_SSL_NO_SUITABLE_KEY_SHARE: "NoSharedCipher",
  ERR_SSL_NO_SHARED_GROUPS: "NoSharedCipher",
  ERR_SSL_NO_APPLICATION_PROTOCOL: "NoApplicationProtocol",
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: "NoApplicationProtocol",
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "PeerCertificateRequired",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "PeerCertificateRequired",
  ERR_TLS_HANDSHAKE_TIMEOUT: "Timeout"
}

const protocolReasons: Record<string, ProtocolFailureReason> = {
  ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC: "BadRecordMac",
  ERR_SSL_BAD_RECORD_MAC: "BadRecordMac",
  ERR_SSL_DECRYPTION_FAILED: "BadRecordMac",
  ERR_SSL_UNEXPECTED_MESSAGE: "UnexpectedMessage",
  ERR_SSL_UNEXPECTED_RECORD: "UnexpectedMessage",
  ERR_SSL_BAD_RECORD_TYPE: "UnexpectedMessage",
  ERR_SSL_UNEXPECTED_EOF_WHILE_READING: "UnexpectedMessage",
  ERR_SSL_WRONG_VERSION_NUMBER: "UnexpectedMessage",
  ERR_SSL_RECORD_OVERFLOW: "RecordOverflow",
  ERR_SSL_PACKET_LENGTH_TOO_LONG: "RecordOverflow",
  ERR_SSL_ENCRYPTED_LENGTH_TOO_LONG: "RecordOverflow",
  ERR_SSL_DATA_LENGTH_TOO_LONG: "RecordOverflow",
  ERR_SSL_RECORD_LENGTH_MISMATCH: "DecodeError",
  ERR_SSL_LENGTH_MISMATCH: "DecodeError",
  ERR_SSL_BAD_PACKET_LENGTH: "DecodeError",
  ERR_SSL_BAD_LENGTH: "DecodeError",
  ERR_SSL_DECODE_ERROR: "DecodeError",
  ERR_SSL_NO_RENEGOTIATION: "RenegotiationRefused",
  ERR_TLS_RENEGOTIATION_DISABLED: "RenegotiationRefused",
  ERR_TLS_SESSION_ATTACK: "RenegotiationRefused",
  ERR_SSL_UNSAFE_LEGACY_RENEGOTIATION_DISABLED: "RenegotiationRefused"
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
export const transportError = (error: unknown, during?: string): TlsTransportError => {
  const code = errorCode(error)
  const message = errorMessage(error)
  return new TlsTransportError({
    reason: (code === undefined ? undefined : transportReasons[code]) ?? "Other",
    code,
    detail: during === undefined ? message : `${during}: ${message}`,
    cause: error
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
export const fromNodeError = (error: unknown, established: boolean): TlsError => {
  const code = errorCode(error)
  const detail = errorMessage(error)
  if (code !== undefined && transportReasons[code] !== undefined) return transportError(error)
  const alert = receivedAlert(code, detail)
  if (!established) {
    const reason = (code === undefined ? undefined : certificateReasons[code]) ?? alertReason(alert)
    return new TlsHandshakeError({ reason, alert, code, detail, cause: error })
  }
  const reason =
    (code === undefined ? undefined : protocolReasons[code]) ??
    (alert === 100 ? "RenegotiationRefused" : alert !== undefined ? "AlertReceived" : "Other")
  return new TlsProtocolError({ reason, alert, code, detail, cause: error })
}

const alertReason = (alert: number | undefined): HandshakeFailureReason => {
  switch (alert) {
    case undefined:
      return "Other"
    case 70:
      return "ProtocolVersion"
    case 120:
      return "NoApplicationProtocol"
    case 116:
      return "PeerCertificateRequired"
    default:
      return "AlertReceived"
  }
}
