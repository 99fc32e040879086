/**
 * Interruption and timeouts: a read that times out loses nothing, and a
 * write that is interrupted is accepted whole or not at all.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { loopbackPair } from "./loopback.ts"

// #region timeout
/**
 * The next chunk, or `None` if none arrives within `within`. The timeout
 * interrupts the read; a chunk that arrives at that moment stays at the head
 * of the read buffer for the next read, so retrying is safe (with a scheduling
 * budget of 4 operations or more: see "Under every schedule"). (`None` also at
 * the end of the stream.)
 */
export const readWithin = (reader: TlsConnection.ReadHalf, within: Duration.Input) =>
  Effect.map(Effect.timeoutOption(reader.read, within), Option.flatten)
// #endregion timeout

// #region deadline
/** A request with a deadline on the whole exchange, not on each operation. */
export const request = (tls: TlsConnection.TlsConnection, line: string) =>
  Effect.andThen(tls.writer.write(`${line}\n`), tls.reader.readUntil("\n")).pipe(Effect.timeout("2 seconds"))
// #endregion deadline

const decoder = new TextDecoder()

export const program = Effect.scoped(
  Effect.gen(function* () {
    const { client, server } = yield* loopbackPair()
    const first = yield* readWithin(client.reader, "50 millis") // nothing was sent yet
    yield* server.writer.write("late\n")
    const second = yield* readWithin(client.reader, "2 seconds")
    // The server answers each request line.
    yield* Effect.forkChild(
      Effect.forever(
        Effect.flatMap(server.reader.readUntil("\n"), (line) => server.writer.write(`re: ${decoder.decode(line)}\n`))
      )
    )
    const answer = yield* request(client, "hello")
    return {
      timedOut: first._tag === "None",
      late: second._tag === "Some" ? decoder.decode(second.value) : undefined,
      answer: decoder.decode(answer)
    }
  })
)
