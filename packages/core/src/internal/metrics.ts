import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { CloseOutcome } from "../CloseOutcome.ts"
import type { TlsError } from "../TlsError.ts"

/**
 * A metric bound to attributes, built once per combination: binding costs a
 * key computation that would otherwise run for every connection. The
 * combinations are few (role, direction, outcome, error tag and reason).
 */
const bound = new Map<string, Metric.Metric<never, unknown>>()
const withAttributes = <Input, State>(
  metric: Metric.Metric<Input, State>,
  key: string,
  attributes: () => Record<string, string>
): Metric.Metric<Input, State> => {
  let found = bound.get(key)
  if (found === undefined) {
    found = Metric.withAttributes(metric, attributes()) as unknown as Metric.Metric<never, unknown>
    bound.set(key, found)
  }
  return found as unknown as Metric.Metric<Input, State>
}

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

export const recordHandshake = (role: string, resumed: boolean, millis: number): Effect.Effect<void> =>
  Effect.andThen(
    Metric.update(
      withAttributes(handshakes, `h|${role}|${resumed}`, () => ({ role, resumed: String(resumed) })),
      1
    ),
    Metric.update(
      withAttributes(handshakeDuration, `d|${role}`, () => ({ role })),
      Duration.millis(millis)
    )
  )

export const recordError = (error: TlsError): Effect.Effect<void> =>
  Metric.update(
    withAttributes(errors, `e|${error._tag}|${error.reason}`, () => ({ kind: error._tag, reason: error.reason })),
    1
  )

export const recordClose = (
  role: string,
  outcome: CloseOutcome,
  bytesRead: number,
  bytesWritten: number
): Effect.Effect<void> =>
  Effect.all(
    [
      Metric.update(
        withAttributes(bytes, `r|${role}`, () => ({ role, direction: "read" })),
        bytesRead
      ),
      Metric.update(
        withAttributes(bytes, `w|${role}`, () => ({ role, direction: "written" })),
        bytesWritten
      ),
      Metric.update(
        withAttributes(closed, `c|${role}|${outcome._tag}`, () => ({ role, outcome: outcome._tag })),
        1
      ),
      outcome._tag === "Failed" ? recordError(outcome.error) : Effect.void
    ],
    { discard: true }
  )
