import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { CloseOutcome } from "../CloseOutcome.ts"
import type { TlsError } from "../TlsError.ts"

/**
 * One metric per combination of attributes (role, direction, outcome, error
 * tag and reason: few), built on first use with its attributes fixed. A
 * metric keeps its registry key for as long as the attributes in the context
 * are the same object, so every update after the first is a map lookup;
 * `Metric.withAttributes` would put a new attribute object in the context on
 * every update and compute the key again each time.
 */
const series = new Map<string, Metric.Metric<never, unknown>>()
const seriesOf = <Input>(key: string, make: () => Metric.Metric<Input, unknown>): Metric.Metric<Input, unknown> => {
  let found = series.get(key)
  if (found === undefined) {
    found = make() as unknown as Metric.Metric<never, unknown>
    series.set(key, found)
  }
  return found as unknown as Metric.Metric<Input, unknown>
}

const handshakes = (role: string, resumed: boolean) =>
  seriesOf(`h|${role}|${resumed}`, () =>
    Metric.counter("tls_handshakes_total", {
      description: "TLS handshakes completed",
      incremental: true,
      attributes: { role, resumed: String(resumed) }
    })
  )

const handshakeDuration = (role: string) =>
  seriesOf(`d|${role}`, () =>
    Metric.timer("tls_handshake_duration", {
      description: "Time from the start of the connection to the end of the handshake",
      attributes: { role }
    })
  )

const errors = (kind: string, reason: string) =>
  seriesOf(`e|${kind}|${reason}`, () =>
    Metric.counter("tls_errors_total", {
      description: "TLS connection failures by kind and reason",
      incremental: true,
      attributes: { kind, reason }
    })
  )

const bytes = (role: string, direction: "read" | "written") =>
  seriesOf(`b|${role}|${direction}`, () =>
    Metric.counter("tls_bytes_total", {
      description: "Application bytes read and written over TLS",
      incremental: true,
      attributes: { role, direction }
    })
  )

const closed = (role: string, outcome: string) =>
  seriesOf(`c|${role}|${outcome}`, () =>
    Metric.counter("tls_connections_closed_total", {
      description: "TLS connections ended, by outcome",
      incremental: true,
      attributes: { role, outcome }
    })
  )

/** Completed handshakes by role and resumption, and the handshake's duration by role. */
export const recordHandshake = (role: string, resumed: boolean, millis: number): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    handshakes(role, resumed).updateUnsafe(1, context)
    handshakeDuration(role).updateUnsafe(Duration.millis(millis), context)
    return Effect.void
  })

/** Failures, by error tag and reason. */
export const recordError = (error: TlsError): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    errors(error._tag, error.reason).updateUnsafe(1, context)
    return Effect.void
  })

/** Plaintext bytes by direction, connections ended by outcome, and the failure if there was one. */
export const recordClose = (
  role: string,
  outcome: CloseOutcome,
  bytesRead: number,
  bytesWritten: number
): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    bytes(role, "read").updateUnsafe(bytesRead, context)
    bytes(role, "written").updateUnsafe(bytesWritten, context)
    closed(role, outcome._tag).updateUnsafe(1, context)
    if (outcome._tag === "Failed") errors(outcome.error._tag, outcome.error.reason).updateUnsafe(1, context)
    return Effect.void
  })
