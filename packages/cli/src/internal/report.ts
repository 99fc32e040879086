/**
 * The lines the tool writes on stderr: the session, the events, the
 * per-connection summary of `serve`. stdout carries only application data
 * (`connect`) or the one `listening` line (`serve`).
 */
import type { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { TlsEvent } from "@effect-tls/core/TlsEvent"
import type { PeerCertificate, TlsSession } from "@effect-tls/core/TlsSession"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { formatError } from "../ExitCode.ts"

/**
 * Writes one line on stderr. Goes straight to the file descriptor's stream,
 * not through `Console`, so that a test or a user that replaced the console
 * still sees the diagnostics where they belong.
 */
export const line = (text: string): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    process.stderr.write(`${text}\n`, () => resume(Effect.void))
  })

/** One value of a `key=value` field: quoted when it has spaces, `-` when absent. */
const field = (value: string | undefined): string => {
  if (value === undefined || value === "") return "-"
  const flat = value.replaceAll(/\s*\n\s*/g, ", ")
  return /[\s"]/.test(flat) ? JSON.stringify(flat) : flat
}

const leaf = (session: TlsSession): PeerCertificate | undefined => session.peerCertificates[0]

/**
 * The session in one line: protocol, cipher, group, ALPN, the peer's subject
 * and issuer, whether the chain was verified, whether the session was resumed.
 */
export const formatSession = (session: TlsSession): string => {
  const peer = leaf(session)
  return [
    "session:",
    session.protocol,
    session.cipher,
    `group=${field(session.group)}`,
    `alpn=${field(session.alpn)}`,
    ...(session.role === "server" ? [`sni=${field(session.servername)}`] : []),
    `subject=${field(peer?.subject)}`,
    `issuer=${field(peer?.issuer)}`,
    `verified=${peer === undefined ? "-" : session.peerVerified ? "yes" : "NO"}`,
    `resumed=${session.resumed ? "yes" : "no"}`
  ].join(" ")
}

const alertNames: Record<number, string> = {
  0: "close_notify",
  10: "unexpected_message",
  20: "bad_record_mac",
  22: "record_overflow",
  40: "handshake_failure",
  42: "bad_certificate",
  43: "unsupported_certificate",
  44: "certificate_revoked",
  45: "certificate_expired",
  46: "certificate_unknown",
  47: "illegal_parameter",
  48: "unknown_ca",
  49: "access_denied",
  50: "decode_error",
  51: "decrypt_error",
  70: "protocol_version",
  71: "insufficient_security",
  80: "internal_error",
  86: "inappropriate_fallback",
  90: "user_canceled",
  100: "no_renegotiation",
  109: "missing_extension",
  110: "unsupported_extension",
  112: "unrecognized_name",
  116: "certificate_required",
  120: "no_application_protocol"
}

const alert = (description: number): string => `${description} (${alertNames[description] ?? "unknown"})`

/**
 * An event as a line, or `undefined` for the events not shown: the handshake
 * (its session line is printed already) and key log lines (secrets: they go
 * to the `--keylog` file only).
 */
export const formatEvent = (event: TlsEvent): string | undefined => {
  switch (event._tag) {
    case "HandshakeDone":
    case "Keylog":
      return undefined
    case "AlertSent":
      return `event: alert sent ${event.level} ${alert(event.description)}`
    case "AlertReceived":
      return `event: alert received ${event.level} ${alert(event.description)}`
    case "KeyUpdate":
      return `event: key update ${event.direction}${event.requested ? " (update requested)" : ""}`
    case "SessionTicket":
      return `event: session ticket received (${event.ticket.length} bytes)`
    case "OcspResponse":
      return `event: OCSP response stapled (${event.response.length} bytes)`
    case "CloseNotifySent":
      return "event: close_notify sent"
    case "CloseNotifyReceived":
      return "event: close_notify received"
    case "EventsDropped":
      return `event: ${event.count} events not shown (the output fell behind)`
  }
}

/**
 * How a connection ended, for the `ended=` field: only what the library
 * knows. The native path cannot tell the peer's close_notify from its bare
 * FIN, so an end there claims neither.
 */
export const formatOutcome = (outcome: CloseOutcome): string => {
  switch (outcome._tag) {
    case "Clean": {
      const ours = outcome.closeNotifySent ? "close_notify sent" : "ours not sent"
      if (outcome.closeNotifyReceived) {
        return outcome.closeNotifySent
          ? "clean (close_notify received and sent)"
          : `clean (close_notify received; ${ours})`
      }
      return outcome.peerEnded
        ? `clean (the peer ended, with close_notify or a bare FIN: the native path cannot tell; ${ours})`
        : `clean (closed before the peer ended; ${ours})`
    }
    case "Truncated":
      return "truncated (the peer's FIN came without close_notify)"
    case "Failed":
      return formatTlsError(outcome.error)
    case "Forced":
      return `forced (${outcome.detail})`
  }
}

/** A library error as in the `error:` line, without its prefix. */
export const formatTlsError = (error: TlsError): string => formatError(error).slice("error: ".length)

/** The error of a failed cause, as in the `error:` line without its prefix. */
export const formatCauseShort = (cause: Cause.Cause<unknown>): string =>
  Cause.hasInterruptsOnly(cause) ? "interrupted" : formatError(Cause.squash(cause)).slice("error: ".length)
