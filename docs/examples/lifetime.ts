/**
 * The connection's lifetime: acquired in a scope, two halves in two fibers,
 * each side ends its write half, the outcome tells how it ended.
 */
import { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { loopbackPair } from "./loopback.ts"

// #region halves
/** Writes `lines` from one fiber while another reads the peer's lines to the end. */
export const converse = (tls: TlsConnection.TlsConnection, lines: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const writer = yield* Effect.forkChild(
      Effect.andThen(
        tls.writer.writeAll(lines.map((line) => `${line}\n`)),
        tls.writer.end // close_notify after the pending writes; the read half keeps reading
      )
    )
    const received = yield* tls.reader.stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
    yield* Fiber.join(writer)
    return received
  })
// #endregion halves

// #region outcome
/** How the connection ended, in words. */
export const describeOutcome = (outcome: CloseOutcome) =>
  CloseOutcome.$match(outcome, {
    Clean: ({ peerEnded, closeNotifyReceived, closeNotifySent }) =>
      `clean (${
        closeNotifyReceived
          ? "the peer sent close_notify"
          : peerEnded
            ? "the peer ended; with close_notify or not, the native path cannot tell"
            : "closed before the peer ended"
      }; ours ${closeNotifySent ? "sent" : "not sent"})`,
    Truncated: () => "truncated: the transport ended without close_notify",
    Failed: ({ error }) => `failed: ${error.message}`,
    Forced: ({ detail }) => `forced: ${detail}`
  })
// #endregion outcome

/** Both sides converse at once; each reads what the other wrote, then both outcomes are clean. */
export const program = Effect.scoped(
  Effect.gen(function* () {
    const { client, server } = yield* loopbackPair()
    const [fromServer, fromClient] = yield* Effect.all(
      [converse(client, ["ping", "pong?"]), converse(server, ["hello", "bye"])],
      { concurrency: 2 }
    )
    const outcomes = yield* Effect.all([client.closed, server.closed])
    return { fromServer, fromClient, outcomes: outcomes.map(describeOutcome) }
  })
)
