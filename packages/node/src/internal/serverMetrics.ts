/**
 * The server's own metrics, beside those of its connections (the core's
 * `tls_*` series): handlers that failed. Each series is defined once, with
 * its attributes fixed, as the core's are.
 */
import type * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

const HANDLER_FAILURES = "Server handlers that ended with an error or a defect (their connections were reset)"

const handlerFailures = {
  error: Metric.counter("tls_server_handler_failures_total", {
    description: HANDLER_FAILURES,
    incremental: true,
    attributes: { kind: "error" }
  }),
  defect: Metric.counter("tls_server_handler_failures_total", {
    description: HANDLER_FAILURES,
    incremental: true,
    attributes: { kind: "defect" }
  })
}

/** One failed handler: `error` when it failed, `defect` when it died. */
export const recordHandlerFailure = (kind: "error" | "defect"): Effect.Effect<void> =>
  Metric.update(handlerFailures[kind], 1)
