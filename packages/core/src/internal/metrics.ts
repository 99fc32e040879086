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

import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Metric from "effect/Metric"
import type { CloseOutcome } from "../CloseOutcome.ts"

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

/**
 * Completed handshakes by role and resumption, and the handshake's duration
 * by role, in the registry of `context` (the connection's fiber's): called
 * from that fiber's step, so that a connection costs no effect for it.
 */
export const recordHandshakeUnsafe = (
  context: Context.Context<never>,
  role: Role,
  resumed: boolean,
  millis: number
): void => {
  const counters = handshakes[role]
  ;(resumed ? counters.resumed : counters.full).updateUnsafe(1, context)
  handshakeDuration[role].updateUnsafe(Duration.millis(millis), context)
}

/** Plaintext bytes by direction, connections ended by outcome, and the failure if there was one (as `recordHandshakeUnsafe`). */
export const recordCloseUnsafe = (
  context: Context.Context<never>,
  role: Role,
  outcome: CloseOutcome,
  bytesRead: number,
  bytesWritten: number
): void => {
  bytes[role].read.updateUnsafe(bytesRead, context)
  bytes[role].written.updateUnsafe(bytesWritten, context)
  closed[role][outcome._tag].updateUnsafe(1, context)
  if (outcome._tag === "Failed") {
    const { error } = outcome
    Metric.withAttributes(errors, { kind: error._tag, reason: error.reason._tag }).updateUnsafe(1, context)
  }
}
