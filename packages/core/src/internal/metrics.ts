/**
 * The connection's metrics: handshakes and their duration, bytes, closes by
 * outcome, failures by kind and reason.
 *
 * Every series with a small, fixed set of attributes (role, resumption,
 * direction, outcome) is defined once, here, with its attributes fixed: an
 * update is then a registry lookup in the runtime's own registry.
 * `Metric.withAttributes` would compute the registry key again on every
 * update, so it is used only for failures, whose attributes (error tag and
 * reason) are open-ended and which are rare.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { CloseOutcome } from "../CloseOutcome.ts"
import type { TlsError } from "../TlsError.ts"

type Role = "client" | "server"

const perRole = <A>(make: (role: Role) => A): Record<Role, A> => ({ client: make("client"), server: make("server") })

const counter = (name: string, description: string, attributes: Record<string, string>) =>
  Metric.counter(name, { description, incremental: true, attributes })

const handshakes = perRole((role) => ({
  full: counter("tls_handshakes_total", "TLS handshakes completed", { role, resumed: "false" }),
  resumed: counter("tls_handshakes_total", "TLS handshakes completed", { role, resumed: "true" })
}))

const handshakeDuration = perRole((role) =>
  Metric.timer("tls_handshake_duration", {
    description: "Time from the start of the connection to the end of the handshake",
    attributes: { role }
  })
)

const BYTES = "Application bytes read and written over TLS"
const bytes = perRole((role) => ({
  read: counter("tls_bytes_total", BYTES, { role, direction: "read" }),
  written: counter("tls_bytes_total", BYTES, { role, direction: "written" })
}))

const CLOSED = "TLS connections ended, by outcome"
const closed = perRole((role) => ({
  Clean: counter("tls_connections_closed_total", CLOSED, { role, outcome: "Clean" }),
  Truncated: counter("tls_connections_closed_total", CLOSED, { role, outcome: "Truncated" }),
  Failed: counter("tls_connections_closed_total", CLOSED, { role, outcome: "Failed" }),
  Forced: counter("tls_connections_closed_total", CLOSED, { role, outcome: "Forced" })
}))

const errors = Metric.counter("tls_errors_total", {
  description: "TLS connection failures by kind and reason",
  incremental: true
})

/** Completed handshakes by role and resumption, and the handshake's duration by role. */
export const recordHandshake = (role: Role, resumed: boolean, millis: number): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    const counters = handshakes[role]
    ;(resumed ? counters.resumed : counters.full).updateUnsafe(1, context)
    handshakeDuration[role].updateUnsafe(Duration.millis(millis), context)
    return Effect.void
  })

/** Plaintext bytes by direction, connections ended by outcome, and the failure if there was one. */
export const recordClose = (
  role: Role,
  outcome: CloseOutcome,
  bytesRead: number,
  bytesWritten: number
): Effect.Effect<void> =>
  Effect.contextWith((context) => {
    bytes[role].read.updateUnsafe(bytesRead, context)
    bytes[role].written.updateUnsafe(bytesWritten, context)
    closed[role][outcome._tag].updateUnsafe(1, context)
    return outcome._tag === "Failed" ? recordFailure(outcome.error) : Effect.void
  })

const recordFailure = (error: TlsError): Effect.Effect<void> =>
  Metric.update(Metric.withAttributes(errors, { kind: error._tag, reason: error.reason._tag }), 1)
