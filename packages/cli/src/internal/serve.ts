/**
 * `effect-tls serve`: a TLS server that echoes, sinks or sources bytes.
 *
 * The library accepts the connections, runs one fiber per connection and
 * shuts down gracefully when the scope closes; this module decides what each
 * connection does and what the user sees: exactly one `listening` line on
 * stdout, everything else on stderr.
 */
import * as Engine from "@effect-tls/core/Engine"
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { formatAddress } from "./args.ts"
import * as EphemeralCa from "./ephemeralCa.ts"
import * as Library from "./library.ts"
import * as Report from "./report.ts"
import type { ServeSettings } from "./settings.ts"

/**
 * Runs the command until interrupted (SIGINT, SIGTERM) or the listener
 * fails; `listening` runs once connections are accepted, before the
 * `listening` line is printed.
 */
export const run = (settings: ServeSettings, listening: Effect.Effect<void>) =>
  Effect.scoped(
    Effect.gen(function* () {
      let credentials = settings.credentials
      let caPath: string | undefined
      if (credentials.length === 0) {
        const ephemeral = yield* EphemeralCa.make()
        credentials = [{ cert: ephemeral.chain, key: ephemeral.key }]
        caPath = ephemeral.caPath
        yield* Report.line(`ephemeral CA: ${ephemeral.caPath} (removed when the server stops)`)
        yield* Report.line(`certificate: ${ephemeral.names.join(", ")} SHA-256 ${ephemeral.fingerprint}`)
      }
      let sequence = 0
      // Made before the server, so that its scope clears it only after the
      // server shut down: the last connections' lines are still printed.
      const reports = yield* FiberSet.make<void>()
      const server = yield* Library.serve(
        settings,
        credentials,
        (connection, peer) => handle(settings, reports, ++sequence, connection, peer),
        settings.verbose
          ? (error, peer) => Report.line(`handshake failed: peer=${formatPeer(peer)} ${Report.formatTlsError(error)}`)
          : undefined
      )
      const bound = Duration.sum(settings.shutdownTimeout ?? NodeTlsServer.defaults.shutdownTimeout, SHUTDOWN_MARGIN)
      yield* Effect.acquireRelease(
        Effect.sync(() => armShutdownBound(bound)),
        (disarm) => Effect.sync(disarm)
      )
      yield* listening
      const address = formatAddress(server.address.host, server.address.port)
      yield* Effect.sync(() => process.stdout.write(`listening ${address}\n`))
      if (caPath !== undefined) {
        yield* Report.line(`try: effect-tls connect ${address} --ca ${caPath}`)
      }
      return yield* server.join
    })
  )

/**
 * The library bounds the graceful shutdown: the shutdown timeout, then each
 * connection's close timeout (default 5 seconds). Should it still not end,
 * the process does not hang: this margin after the shutdown timeout, a timer
 * armed by the signal exits with code 1.
 */
const SHUTDOWN_MARGIN = Duration.seconds(10)

const armShutdownBound = (bound: Duration.Duration): (() => void) => {
  let timer: NodeJS.Timeout | undefined
  const onSignal = () => {
    timer ??= setTimeout(() => {
      process.stderr.write(
        `error: ShutdownTimeout: the server did not stop within ${Duration.format(bound)} of the signal\n`
      )
      process.exit(1)
    }, Duration.toMillis(bound)).unref()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
}

/** Total bytes of a connection, for the summary line. */
interface Counters {
  received: number
  sent: number
}

/**
 * One connection: the mode, then (with -v) the summary line, printed once the
 * connection has closed, with how it ended: the mode's failure, or the
 * connection's outcome (which says only what the path can tell). A failed
 * mode fails the handler, so that the library resets the connection rather
 * than closing it as if all went well.
 */
const handle = (
  settings: ServeSettings,
  reports: FiberSet.FiberSet<void>,
  id: number,
  connection: TlsConnection,
  peer: NodeTlsServer.Peer
) =>
  Effect.gen(function* () {
    const counters: Counters = { received: 0, sent: 0 }
    const result = yield* Effect.exit(serveMode(settings, connection, counters))
    if (settings.verbose) {
      // The outcome is final once the connection's scope has closed, which
      // the library bounds by the close timeout after this handler returns.
      yield* FiberSet.run(
        reports,
        Effect.flatMap(connection.closed, (outcome) => {
          const ended =
            result._tag === "Success" ? Report.formatOutcome(outcome) : Report.formatCauseShort(result.cause)
          return Report.line(
            `connection #${id}: peer=${formatPeer(peer)} ${Report.formatSession(connection.session).slice("session: ".length)} received=${counters.received} sent=${counters.sent} ended=${ended}`
          )
        })
      )
    }
    return yield* result
  })

const formatPeer = (peer: NodeTlsServer.Peer): string =>
  `${peer.family === "IPv6" ? `[${peer.address}]` : peer.address}:${peer.port}`

/** One record's worth of plaintext per write. */
const SOURCE_CHUNK = Engine.recordPlaintextBytes
/** Never mutated: the write half does not copy chunks, and every write of source mode shares it. */
const sourceBlock = new Uint8Array(SOURCE_CHUNK).fill(0x61)

/**
 * The data of one connection in the chosen mode. The library bounds every
 * wait with the idle timeout.
 */
const serveMode = (settings: ServeSettings, connection: TlsConnection, counters: Counters) => {
  const incoming = Stream.fromEffectRepeat(connection.reader.read).pipe(
    Stream.takeWhile(Option.isSome),
    Stream.map((chunk) => chunk.value),
    Stream.tap((chunk) =>
      Effect.sync(() => {
        counters.received += chunk.length
      })
    )
  )
  const write = (chunk: Uint8Array) =>
    Effect.tap(connection.writer.write(chunk), () =>
      Effect.sync(() => {
        counters.sent += chunk.length
      })
    )
  const end = connection.writer.end
  switch (settings.mode._tag) {
    case "Echo":
      // After the client's close_notify, everything read was written: end
      // flushes it and sends our close_notify.
      return Effect.andThen(Stream.runForEach(incoming, write), end)
    case "Sink":
      return Effect.andThen(Stream.runDrain(incoming), end)
    case "Source": {
      const total = settings.mode.bytes
      const send = Effect.gen(function* () {
        for (let sent = 0; sent < total; sent += SOURCE_CHUNK) {
          yield* write(total - sent >= SOURCE_CHUNK ? sourceBlock : sourceBlock.subarray(0, total - sent))
        }
        yield* end
      })
      // What the client sends meanwhile is read and dropped, so that it never
      // blocks on a full window, until its close_notify.
      return Effect.andThen(Effect.all([send, Stream.runDrain(incoming)], { concurrency: 2 }), Effect.void)
    }
  }
}
