/**
 * Observability: the connection's events, its counters, and the metrics the
 * library records.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { loopbackPair } from "./loopback.ts"

// #region events
/** Logs every control event until the connection ends (run it in its own fiber). */
export const logEvents = (tls: TlsConnection.TlsConnection) =>
  Stream.runForEach(tls.events, (event) =>
    event._tag === "EventsDropped"
      ? Effect.logWarning(`missed ${event.count} TLS events`)
      : Effect.logDebug(`TLS event ${event._tag}`)
  )
// #endregion events

// #region metrics
/** The library's metrics (`tls_*`) with their attributes, as `name{key=value} state`. */
export const tlsMetrics = Effect.map(Metric.snapshot, (snapshots) =>
  snapshots
    .filter((snapshot) => snapshot.id.startsWith("tls_"))
    .map((snapshot) => {
      const attributes = Object.entries(snapshot.attributes ?? {})
        .map(([key, value]) => `${key}=${value}`)
        .join(",")
      return `${snapshot.id}{${attributes}} ${JSON.stringify(snapshot.state)}`
    })
)
// #endregion metrics

export const program = Effect.gen(function* () {
  const events = yield* Effect.scoped(
    Effect.gen(function* () {
      const { client, server } = yield* loopbackPair()
      yield* Effect.forkChild(logEvents(client))
      yield* client.writer.write("ping")
      yield* server.reader.readExactly(4)
      const stats = yield* client.stats
      // The history replays to a new follower: the first event is the handshake's.
      const first = yield* Stream.runHead(client.events)
      return { first: first._tag === "Some" ? first.value._tag : undefined, bytesWritten: stats.bytesWritten }
    })
  )
  // Connections record their bytes and outcome when they end (the scope above).
  return { ...events, metrics: yield* tlsMetrics }
})
