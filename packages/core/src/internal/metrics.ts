import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { CloseOutcome } from "../CloseOutcome.ts"
import type { TlsError } from "../TlsError.ts"

/** Completed handshakes, by role and whether the session was resumed. */
export const handshakes = Metric.counter("tls_handshakes_total", {
  description: "TLS handshakes completed",
  incremental: true
})

/** Handshake duration, by role. */
export const handshakeDuration = Metric.timer("tls_handshake_duration", {
  description: "Time from the start of the connection to the end of the handshake"
})

/** Failures, by error tag and reason. */
export const errors = Metric.counter("tls_errors_total", {
  description: "TLS connection failures by kind and reason",
  incremental: true
})

/** Plaintext bytes, by direction. */
export const bytes = Metric.counter("tls_bytes_total", {
  description: "Application bytes read and written over TLS",
  incremental: true
})

/** Connections ended, by outcome. */
export const closed = Metric.counter("tls_connections_closed_total", {
  description: "TLS connections ended, by outcome",
  incremental: true
})

export const recordError = (error: TlsError): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(errors, { kind: error._tag, reason: error.reason }), 1)

export const recordClose = (
  role: string,
  outcome: CloseOutcome,
  bytesRead: number,
  bytesWritten: number
): Effect.Effect<void> =>
  Effect.all(
    [
      Metric.update(Metric.withAttributes(bytes, { role, direction: "read" }), bytesRead),
      Metric.update(Metric.withAttributes(bytes, { role, direction: "written" }), bytesWritten),
      Metric.update(Metric.withAttributes(closed, { role, outcome: outcome._tag }), 1),
      outcome._tag === "Failed" ? recordError(outcome.error) : Effect.void
    ],
    { discard: true }
  )
