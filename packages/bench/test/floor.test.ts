/**
 * The floor implementation must itself keep the contract it stands for:
 * interrupted reads and writes lose and duplicate nothing (an echo of 1 MiB
 * under three scheduling budgets, three seeds each, with interruptions at
 * random points), a scope close ends a blocked read, and every handshake
 * completes on both sides even when the client ends at once.
 */

import { assert, describe, it } from "@effect/vitest"
import * as Adversarial from "@effect-tls/test/Adversarial"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Credentials from "../src/Credentials.ts"
import type { Conn } from "../src/Implementation.ts"
import * as Floor from "../src/implementations/floor.ts"

const echo = (conn: Conn) =>
  Effect.gen(function* () {
    for (let chunks = conn.chunks(yield* conn.read); chunks !== undefined; chunks = conn.chunks(yield* conn.read)) {
      for (const chunk of chunks) yield* conn.write(chunk)
    }
    yield* conn.end
  })

const concat = (chunks: ReadonlyArray<Uint8Array>, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const readToEnd = (conn: Conn): Effect.Effect<void, unknown> =>
  Effect.flatMap(conn.read, (chunks) => (chunks === undefined ? Effect.void : readToEnd(conn)))

/** Polls `done` every few milliseconds; fails if it is still false after `within`. */
const until = (done: () => boolean, within: Duration.Duration): Effect.Effect<void, unknown> => {
  const poll: Effect.Effect<void> = Effect.suspend(() =>
    done() ? Effect.void : Effect.andThen(Effect.sleep(Duration.millis(5)), poll)
  )
  return Effect.timeout(poll, within)
}

/**
 * Interrupted from outside and by timeouts. Not by `race`: `Effect.raceFirst`
 * interrupts the loser in an effect of its own, after the winner's exit, so
 * under a small budget the parent can yield in between and a read that
 * completes then has its chunks dropped by the race (measured at budget 16:
 * bytes lost in most batches of 40 runs, on effect-tls's native path as on
 * this one; none at 2048, none with `timeout`).
 */
const ways: ReadonlyArray<Adversarial.Interruption> = ["interrupt", "timeout"]

describe("floor", () => {
  it.live(
    "an echo with interrupted reads and writes loses and duplicates nothing",
    () =>
      Effect.gen(function* () {
        const credentials = yield* Credentials.make
        let interruptions = 0
        yield* Adversarial.run(
          ({ random }) =>
            Effect.scoped(
              Effect.gen(function* () {
                const port = yield* Floor.serve(credentials, echo)
                const client = yield* Floor.client(credentials, { resume: false })
                const conn = yield* client.connect(port)
                const chunks: Array<Uint8Array> = []
                let total = 0
                while (total < 1024 * 1024) {
                  const size = random.chance(0.3) ? random.int(1, 64) : random.int(1, 16 * 1024)
                  chunks.push(random.bytes(size))
                  total += size
                }
                // Writer: an interrupted write accepted nothing, so it is retried as it was.
                const writer = Effect.gen(function* () {
                  let interrupted = 0
                  for (const chunk of chunks) {
                    for (;;) {
                      const exit = random.chance(0.5)
                        ? yield* Adversarial.interruptAtRandom(conn.write(chunk), random, { ways })
                        : yield* Effect.exit(conn.write(chunk))
                      if (Exit.isSuccess(exit)) break
                      if (!Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause)
                      interrupted++
                    }
                  }
                  yield* conn.end
                  return interrupted
                })
                // Reader: an interrupted read took nothing, so reading on loses nothing.
                const reader = Effect.gen(function* () {
                  const received: Array<Uint8Array> = []
                  let bytes = 0
                  let interrupted = 0
                  for (;;) {
                    const exit = random.chance(0.5)
                      ? yield* Adversarial.interruptAtRandom(conn.read, random, { ways })
                      : yield* Effect.exit(conn.read)
                    if (Exit.isFailure(exit)) {
                      if (!Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.failCause(exit.cause)
                      interrupted++
                      continue
                    }
                    if (exit.value === undefined) break
                    for (const chunk of exit.value) {
                      received.push(chunk)
                      bytes += chunk.length
                    }
                  }
                  return { received: concat(received, bytes), interrupted }
                })
                const [writesInterrupted, read] = yield* Effect.all([writer, reader], { concurrency: 2 })
                assert.strictEqual(read.received.length, total)
                assert.deepStrictEqual(read.received, concat(chunks, total))
                interruptions += writesInterrupted + read.interrupted
              })
            ),
          { budgets: [Adversarial.raceSafeBudget, 16, 2048], seeds: 3 }
        )
        // The interruptions did land.
        assert.isAbove(interruptions, 0)
      }),
    30_000
  )

  it.live(
    "closing the scope ends a blocked read",
    () =>
      Effect.gen(function* () {
        const credentials = yield* Credentials.make
        // The server reads and never writes.
        const port = yield* Floor.serve(credentials, (conn) =>
          Effect.gen(function* () {
            while ((yield* conn.read) !== undefined) {
              // discard
            }
            yield* conn.end
          })
        )
        const client = yield* Floor.client(credentials, { resume: false })
        const scope = yield* Scope.make()
        const conn = yield* Scope.provide(client.connect(port), scope)
        const blocked = yield* Effect.forkChild(conn.read)
        yield* Effect.sleep(Duration.millis(50))
        assert.isUndefined(blocked.pollUnsafe())
        yield* Scope.close(scope, Exit.void).pipe(Effect.timeout(Duration.seconds(2)))
        const exit = yield* Fiber.await(blocked).pipe(Effect.timeout(Duration.seconds(1)))
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        assert.strictEqual(error?._tag === "Fail" && (error.error as Floor.FloorError).reason, "ConnectionClosed")
        // Every later operation fails the same way.
        const write = yield* Effect.exit(conn.write(new Uint8Array(1)))
        assert.isTrue(Exit.isFailure(write))
      }).pipe(Effect.scoped),
    10_000
  )

  it.live(
    "a client that ends at once completes its handshake on both sides, full and resumed",
    () =>
      Effect.gen(function* () {
        const credentials = yield* Credentials.make
        let served = 0
        const port = yield* Floor.serve(credentials, (conn) =>
          Effect.andThen(
            Effect.sync(() => served++),
            Effect.andThen(readToEnd(conn), conn.end)
          )
        )
        const count = 30
        const handshakes = (resume: boolean) =>
          Effect.gen(function* () {
            const client = yield* Floor.client(credentials, { resume })
            // The first connection reads to the server's close_notify, so that its tickets arrive.
            if (resume) {
              yield* Effect.scoped(
                Effect.flatMap(client.connect(port), (conn) => Effect.andThen(conn.end, readToEnd(conn)))
              )
            }
            let resumed = 0
            yield* Effect.forEach(
              Array.from({ length: count }),
              () => Effect.scoped(Effect.map(client.connect(port), (conn) => (conn.resumed ? resumed++ : 0))),
              { concurrency: 4, discard: true }
            )
            return resumed
          })
        assert.strictEqual(yield* handshakes(false), 0)
        assert.strictEqual(yield* handshakes(true), count)
        // The server saw every handshake complete: a client Finished lost behind the FIN would fail it there.
        yield* until(() => served === 2 * count + 1, Duration.seconds(2))
      }).pipe(Effect.scoped),
    10_000
  )
})
