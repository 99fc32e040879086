/**
 * `effect-tls connect`: a TLS client between the terminal and a server.
 *
 * Two fibers share the connection: one copies stdin to the write half and
 * ends it (close_notify, then FIN) when stdin ends; the other copies the read
 * half to stdout until the peer's close_notify. The command ends when the
 * read half ends (or fails); the writer is then interrupted and the scope
 * closes the connection gracefully.
 */
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Library from "./library.ts"
import * as Report from "./report.ts"
import type { ConnectSettings } from "./settings.ts"

/** Runs the command. */
export const run = (settings: ConnectSettings) =>
  Effect.scopedWith((outer) =>
    Effect.gen(function* () {
      if (settings.insecure) {
        yield* Report.line(
          "WARNING: --insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection"
        )
      }
      // The events follower lives outside the connection's scope, so that the
      // last events (close_notify sent) are printed after the connection has
      // closed; its stream ends with the connection.
      const events = yield* Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* Library.connect(settings)
          yield* Report.line(Report.formatSession(connection.session))
          const events = settings.verbose ? yield* Effect.forkIn(followEvents(connection), outer) : undefined
          yield* pump(connection)
          return events
        })
      )
      if (events !== undefined) yield* Effect.ignore(Effect.timeout(Fiber.join(events), EVENTS_GRACE))
    })
  )

/** How long the last events may take to print after the connection closed. */
const EVENTS_GRACE = Duration.seconds(1)

/** Prints the events on stderr until the connection ends. */
export const followEvents = (connection: TlsConnection): Effect.Effect<void> =>
  Stream.runForEach(connection.events, (event) => {
    const text = Report.formatEvent(event)
    return text === undefined ? Effect.void : Report.line(text)
  })

/**
 * stdin to the write half, the read half to stdout. Ends when the read half
 * ends; a failure of either side ends it with that failure.
 */
const pump = (connection: TlsConnection) =>
  Effect.gen(function* () {
    const stdio = yield* Stdio.Stdio
    const upstream = Stream.run(stdio.stdin, connection.writer.sink)
    const downstream = Stream.run(connection.reader.stream, stdio.stdout())
    // The writer finishing (stdin ended, close_notify sent) must not end the
    // command: the peer may still answer. Only the reader's end does.
    yield* Effect.raceFirst(downstream, Effect.andThen(upstream, Effect.never))
  })
