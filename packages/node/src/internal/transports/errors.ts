import { TlsTransportError, type TransportFailureReason } from "@effect-tls/core/TlsError"

const reasons: Record<string, TransportFailureReason> = {
  ECONNREFUSED: "ConnectionRefused",
  ECONNRESET: "ConnectionReset",
  ECONNABORTED: "ConnectionReset",
  EPIPE: "ConnectionReset",
  ERR_STREAM_PREMATURE_CLOSE: "ConnectionReset",
  ETIMEDOUT: "Timeout",
  ENOTFOUND: "HostNotFound",
  EAI_AGAIN: "HostNotFound",
  EAI_NONAME: "HostNotFound",
  EAI_FAIL: "HostNotFound"
}

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

/** Classifies a Node socket error (its `code`), keeping it as the cause. */
export const fromNodeError = (cause: unknown, during?: string): TlsTransportError => {
  const code = codeOf(cause)
  const message = cause instanceof Error ? cause.message : String(cause)
  return new TlsTransportError({
    reason: (code !== undefined ? reasons[code] : undefined) ?? "Other",
    code,
    detail: during === undefined ? message : `${during}: ${message}`,
    cause
  })
}
