/**
 * Contract points 4 and 6 under adversity: interrupted reads and writes of
 * every kind lose and duplicate nothing, and an operation that must wait is
 * always woken.
 */
import { assert } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Interruption, Random } from "../../Adversarial.ts"
import { interruptAtRandom, raceSafeBudget, random as seeded } from "../adversarial.ts"
import {
  assertBytes,
  awaitStall,
  Collected,
  fill,
  type Registration,
  randomChunks,
  readAll,
  readBytes,
  within,
  writeChunks
} from "./support.ts"

/** The ways to interrupt under `budget`: Effect's race combinators lose results below `raceSafeBudget`. */
const waysFor = (budget: number): ReadonlyArray<Interruption> =>
  budget >= raceSafeBudget ? ["interrupt", "interrupt", "timeout", "race"] : ["interrupt"]

/** A message: [id:4][length:4][length bytes of (id & 0xff)], unique by id. */
const message = (id: number, length: number): Uint8Array => {
  const bytes = new Uint8Array(8 + length).fill(id & 0xff)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, id)
  view.setUint32(4, length)
  return bytes
}

/** The ids of the messages in `bytes`, failing on a partial, corrupt or truncated one. */
const parseMessages = (bytes: Uint8Array): Array<number> => {
  const ids: Array<number> = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at < bytes.length) {
    assert.isAtMost(at + 8, bytes.length, "a partial message header reached the peer")
    const id = view.getUint32(at)
    const length = view.getUint32(at + 4)
    assert.isAtMost(at + 8 + length, bytes.length, `a partial message (#${id}) reached the peer`)
    for (let i = at + 8; i < at + 8 + length; i++) {
      if (bytes[i] !== (id & 0xff)) assert.fail(`message #${id} is corrupt at byte ${i - at}`)
    }
    ids.push(id)
    at += 8 + length
  }
  return ids
}

/** Fails unless `exit` succeeded or was interrupted: any other failure is a bug in this test's eyes. */
const onlyInterrupted = <A, E>(exit: Exit.Exit<A, E>, what: string): void => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    assert.fail(`${what} failed: ${Cause.pretty(exit.cause)}`)
  }
}

/**
 * Sends `target` bytes of messages with writes of every kind (write,
 * writeAll, the sink for the last batch), a share of them interrupted at
 * random; returns the ids of the writes that completed, in order.
 */
const send = (writer: TlsConnection.WriteHalf, random: Random, budget: number, target: number) =>
  Effect.gen(function* () {
    const completed: Array<number> = []
    let id = 0
    let bytes = 0
    const next = (): { readonly id: number; readonly bytes: Uint8Array } => {
      id++
      const m = message(id, random.int(0, 3000))
      bytes += m.length
      return { id, bytes: m }
    }
    while (bytes < target) {
      const batch = random.chance(0.6) ? [next()] : Array.from({ length: random.int(2, 5) }, next)
      const op =
        batch.length === 1
          ? writer.write((batch[0] as { readonly bytes: Uint8Array }).bytes)
          : writer.writeAll(batch.map((m) => m.bytes))
      const exit = random.chance(0.4)
        ? yield* interruptAtRandom(op, random, { ways: waysFor(budget) })
        : yield* Effect.exit(op)
      onlyInterrupted(exit, "a write")
      if (Exit.isSuccess(exit)) for (const m of batch) completed.push(m.id)
    }
    if (random.chance(0.5)) {
      const last = [next(), next()]
      yield* Stream.run(Stream.fromIterable(last.map((m) => m.bytes)), writer.sink)
      for (const m of last) completed.push(m.id)
    } else {
      yield* writer.end
    }
    return completed
  })

type ReadKind = "read" | "readExactly" | "readUntil" | "take"
const readKinds: ReadonlyArray<ReadKind> = ["read", "readExactly", "readUntil", "take"]

/**
 * Reads to the end with reads of every kind (read, readExactly, readUntil,
 * the stream stopped by `take`), a share of them interrupted at random;
 * returns what the reads delivered, in order. (A stream whose consumer is
 * interrupted at a random point is not exact: Effect's stream machinery holds
 * a pulled chunk for a few operations before the consumer's function gets it.
 * The stream test below interrupts consumers where the contract holds.)
 */
const receive = (reader: TlsConnection.ReadHalf, random: Random, budget: number) =>
  Effect.gen(function* () {
    const got = new Collected()
    let ended = false
    while (!ended) {
      const kind = random.pick(readKinds)
      let op: Effect.Effect<ReadonlyArray<Uint8Array> | undefined, TlsError>
      switch (kind) {
        case "read":
          op = Effect.map(reader.read, (chunk) => (Option.isSome(chunk) ? [chunk.value] : undefined))
          break
        case "readExactly":
          op = Effect.map(reader.readExactly(random.int(1, 5000)), (bytes) => [bytes])
          break
        case "readUntil": {
          const delimiter = Uint8Array.of(random.int(0, 255))
          op = Effect.map(reader.readUntil(delimiter, { maxBytes: random.int(0, 20_000) }), (frame) => [
            frame,
            delimiter
          ])
          break
        }
        // A stream's chunks count as delivered when the consumer's function gets them.
        case "take":
          op = Effect.as(
            Stream.runForEach(Stream.take(reader.stream, random.int(1, 4)), (chunk) =>
              Effect.sync(() => got.push(chunk))
            ),
            []
          )
          break
      }
      const interrupt = kind !== "take" && random.chance(0.5)
      const exit = interrupt ? yield* interruptAtRandom(op, random, { ways: waysFor(budget) }) : yield* Effect.exit(op)
      if (Exit.isSuccess(exit)) {
        if (exit.value === undefined) ended = kind === "read"
        else for (const chunk of exit.value) got.push(chunk)
        continue
      }
      // EndOfStream and FrameTooLong consume nothing; any other failure is a bug.
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isSome(error)) {
        const e = error.value
        if (e._tag === "TlsStateError" && (e.reason._tag === "EndOfStream" || e.reason._tag === "FrameTooLong"))
          continue
        assert.fail(`a ${kind} failed: ${Cause.pretty(exit.cause)}`)
      }
      onlyInterrupted(exit, `a ${kind}`)
    }
    return got.concat()
  })

export const register = ({ contract, has, need }: Registration): void => {
  contract(
    [4],
    "exactly once: interrupted reads and writes of every kind, both directions at once, lose and duplicate nothing",
    [],
    ({ run, scale, withPair }) =>
      withPair(
        {
          client: { readBufferBytes: 16 * 1024, writeBufferBytes: 8 * 1024 },
          server: { readBufferBytes: 16 * 1024, writeBufferBytes: 8 * 1024 }
        },
        ({ client, server }) =>
          Effect.gen(function* () {
            const target = Math.max(64 * 1024, Math.floor(scale.transferBytes / 8))
            // One random source per fiber: their interleaving varies, their choices do not.
            const rng = (k: number) => seeded(run.seed * 4 + k)
            const [up, down, atServer, atClient] = yield* Effect.all(
              [
                send(client.writer, rng(1), run.budget, target),
                send(server.writer, rng(2), run.budget, target),
                receive(server.reader, rng(3), run.budget),
                receive(client.reader, rng(4), run.budget)
              ],
              { concurrency: "unbounded" }
            ).pipe(within(60_000, "the exchange did not finish"))
            assert.deepStrictEqual(
              parseMessages(atServer),
              up,
              "client -> server: the messages differ from the completed writes"
            )
            assert.deepStrictEqual(
              parseMessages(atClient),
              down,
              "server -> client: the messages differ from the completed writes"
            )
          })
      ),
    { timeout: 90_000 }
  )

  contract([4], "read interrupted at random points loses and duplicates nothing", [], ({ run, scale, withPair }) =>
    withPair({}, ({ client, server }) =>
      Effect.gen(function* () {
        const { random } = run
        const data = random.bytes(Math.min(scale.transferBytes, 2 * 1024 * 1024))
        // The server trickles the data (yielding between writes) so that the
        // interrupts land while a transfer is in progress, not after it; and
        // it is held to the interrupts' pace, so that a schedule that runs the
        // reader fast cannot end the transfer within the first half of them:
        // every `perTurn` chunks it waits for one more interrupt to be done.
        const pace = seeded(run.seed + 20)
        const chunks: Array<Uint8Array> = []
        for (let at = 0; at < data.length; ) {
          const n = Math.min(pace.int(1, 2000), data.length - at)
          chunks.push(data.subarray(at, at + n))
          at += n
        }
        const perTurn = Math.max(1, Math.ceil(chunks.length / Math.max(1, Math.floor(scale.interruptIterations / 2))))
        const turns = yield* Queue.unbounded<void>()
        const writer = yield* Effect.forkChild(
          Effect.andThen(
            Effect.forEach(
              chunks,
              (chunk, i) =>
                Effect.andThen(
                  i > 0 && i % perTurn === 0 ? Queue.take(turns) : Effect.void,
                  Effect.andThen(server.writer.write(chunk), Effect.repeat(Effect.yieldNow, { times: pace.int(0, 10) }))
                ),
              { discard: true }
            ),
            server.writer.end
          )
        )
        const received = new Collected()
        let ended = false
        // Each read records its result only if it exits successfully: the
        // guarantee is that such a read removed exactly those bytes.
        const readOnce = Effect.suspend(() =>
          random.chance(0.7)
            ? Effect.map(client.reader.read, (chunk) => {
                if (Option.isSome(chunk)) received.push(chunk.value)
                else ended = true
              })
            : Effect.map(client.reader.readExactly(random.int(1, 5000)), (bytes) => received.push(bytes)).pipe(
                // At the end an exact read fails with EndOfStream, consuming nothing.
                Effect.catchTag("TlsStateError", () => Effect.void)
              )
        )
        const readLoop = Effect.whileLoop({ while: () => !ended, body: () => readOnce, step: () => {} })
        let interrupted = 0
        for (let i = 0; i < scale.interruptIterations && !ended; i++) {
          yield* interruptAtRandom(readLoop, random, { ways: waysFor(run.budget) })
          if (!ended) interrupted++
          yield* Queue.offer(turns, undefined)
        }
        // Most interrupts must have hit a transfer in progress, or the test proves little.
        assert.isAtLeast(interrupted, Math.min(50, scale.interruptIterations / 4), "the transfer ended too early")
        // The rest of the transfer goes at the writer's own pace.
        yield* Queue.offerAll(
          turns,
          Array.from({ length: Math.ceil(chunks.length / perTurn) }, () => undefined)
        )
        yield* readLoop.pipe(within(10_000, "the final reader did not reach the end"))
        yield* Fiber.join(writer)
        assertBytes(received.concat(), data, "bytes received across interrupted reads")
      })
    )
  )

  contract(
    [4],
    "write interrupted at random points: the peer gets exactly the completed writes, in order",
    [],
    ({ run, scale, withPair }) =>
      withPair({ client: { writeBufferBytes: 8 * 1024 } }, ({ client, server }) =>
        Effect.gen(function* () {
          const { random } = run
          // The server reads slowly, so that writers often wait for buffer space
          // and interrupts land inside a blocked write. Yields alone are not slow
          // enough on every runtime (on Bun the writer outpaced the reader and no
          // write waited in some runs), so half the chunks, at random, are
          // followed by a millisecond's pause: the reader then takes a few
          // records per millisecond whatever the runtime.
          const pace = seeded(run.seed + 30)
          const slowReader = Effect.suspend(() => {
            const collected = new Collected()
            const loop: Effect.Effect<Uint8Array, TlsError> = Effect.flatMap(server.reader.read, (chunk) => {
              if (Option.isNone(chunk)) return Effect.succeed(collected.concat())
              collected.push(chunk.value)
              const pause = pace.chance(0.5)
                ? Effect.sleep(Duration.millis(1))
                : Effect.repeat(Effect.yieldNow, { times: pace.int(0, 20) })
              return Effect.andThen(pause, loop)
            })
            return loop
          })
          const reader = yield* Effect.forkChild(slowReader)
          const completed: Array<number> = []
          let seq = 0
          // A varying number of operations before each write, so that where the
          // scheduler suspends the writer (every `budget` operations) moves
          // across the write instead of landing at one fixed point of a loop
          // whose length divides the budget.
          const phase = seeded(run.seed + 31)
          const writeOne = Effect.suspend(() => {
            const id = ++seq
            const write = Effect.map(client.writer.write(message(id, random.int(1, 3000))), () => {
              completed.push(id)
            })
            const shift = phase.int(0, 3)
            return shift === 0 ? write : Effect.andThen(Effect.repeat(Effect.void, { times: shift - 1 }), write)
          })
          for (let i = 0; i < scale.interruptIterations; i++) {
            yield* interruptAtRandom(Effect.forever(writeOne), random, { ways: waysFor(run.budget) })
          }
          yield* client.writer.end
          const bytes = yield* Fiber.join(reader).pipe(within(10_000, "the server did not reach the end"))
          assert.deepStrictEqual(
            parseMessages(bytes),
            completed,
            "the peer's messages differ from the completed writes"
          )
          // Some writes must have been interrupted while waiting, or the test proves little.
          assert.isAtLeast(
            seq - completed.length,
            Math.min(50, scale.interruptIterations / 10),
            "no write was interrupted"
          )
          assert.isAbove(completed.length, 0)
        })
      )
  )

  contract(
    [4],
    "a stream consumer stopped by take, or interrupted while it works on a chunk or waits for one, leaves the rest",
    [],
    ({ run, withPair }) =>
      withPair({}, ({ client, server }) =>
        Effect.gen(function* () {
          const { random } = run
          const sent = new Collected()
          const got = new Collected()
          const deliveredAll = Effect.suspend(() => (got.length >= sent.length ? Effect.void : Effect.fail("pending")))
          for (let round = 0; round < 200; round++) {
            const batch = random.bytes(random.int(1, 16_000))
            yield* writeChunks(server.writer, randomChunks(batch, random, 16 * 1024))
            sent.push(batch)
            // Drained whenever much is undelivered, so that the writes above never block; a
            // `take` or a consumer that stops in its function needs a chunk to come.
            const undelivered = sent.length - got.length
            const way = undelivered > 48 * 1024 ? "waiting" : random.pick(["take", "working", "waiting"] as const)
            if (way === "take") {
              if (undelivered > 0) {
                yield* Stream.runForEach(Stream.take(client.reader.stream, 1), (chunk) =>
                  Effect.sync(() => got.push(chunk))
                )
              }
              continue
            }
            if (way === "working" && undelivered === 0) continue
            // The interruption lands where the contract says a stream loses nothing: inside the
            // consumer's function (it signals from there, after recording the chunk), or while
            // the stream waits with nothing buffered (everything sent so far was delivered).
            const inside = yield* Deferred.make<void>()
            const consumer = yield* Effect.forkChild(
              Stream.runForEach(client.reader.stream, (chunk) =>
                Effect.andThen(
                  Effect.sync(() => got.push(chunk)),
                  way === "working" ? Effect.andThen(Deferred.succeed(inside, undefined), Effect.never) : Effect.void
                )
              )
            )
            if (way === "working") {
              yield* Deferred.await(inside).pipe(within(5_000, "the stream consumer got no chunk"))
            } else {
              yield* deliveredAll.pipe(
                Effect.retry({ schedule: Schedule.spaced(Duration.millis(1)), times: 5_000 }),
                within(10_000, "the stream consumer did not catch up")
              )
              yield* Effect.repeat(Effect.yieldNow, { times: random.int(0, 10) })
            }
            yield* Fiber.interrupt(consumer)
          }
          yield* server.writer.end
          got.push(yield* readAll(client.reader))
          assertBytes(got.concat(), sent.concat(), "bytes delivered across stopped and interrupted stream consumers")
        })
      )
  )

  contract(
    [4],
    "an operation that must wait is woken when the buffer changes: reads on an empty buffer",
    [],
    ({ run, withPair }) =>
      withPair({ client: { readBufferBytes: 4096 } }, ({ client, server }) =>
        Effect.gen(function* () {
          const { random } = run
          const line = new TextEncoder().encode(`${"x".repeat(200)}\n`)
          for (let i = 0; i < 40; i++) {
            const kind = random.pick(["read", "readExactly", "readUntil", "pull"] as const)
            const op: Effect.Effect<unknown, unknown> =
              kind === "read"
                ? client.reader.read
                : kind === "readExactly"
                  ? client.reader.readExactly(line.length)
                  : kind === "readUntil"
                    ? client.reader.readUntil("\n")
                    : Stream.runCollect(Stream.take(client.reader.stream, 1))
            // The reader starts on an empty buffer and is suspended at varying points of its
            // way to waiting when the data arrives.
            const fiber = yield* Effect.forkChild(op, { startImmediately: true })
            yield* Effect.repeat(Effect.yieldNow, { times: random.int(0, 6) })
            yield* server.writer.write(line)
            const exit = yield* Fiber.await(fiber).pipe(within(5_000, `a ${kind} on an empty buffer was never woken`))
            assert.isTrue(Exit.isSuccess(exit), `${kind}: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""}`)
            // Drain what that kind left behind, so the next round starts on an empty buffer.
            const stats = yield* client.stats
            if (stats.readBuffered > 0) yield* client.reader.readExactly(stats.readBuffered)
          }
        })
      )
  )

  contract(
    [4],
    "an operation that must wait is woken when the buffer changes: a write on a full buffer",
    [has("wire")],
    ({ run, withPair }) =>
      withPair({ client: { writeBufferBytes: 4096 } }, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const wire = need(pair.wire, "wire")
          const { random } = run
          for (let i = 0; i < 8; i++) {
            yield* wire.pause("clientToServer")
            const filler = { bytes: 0 }
            const filling = yield* Effect.forkChild(
              Effect.forever(Effect.map(client.writer.write(fill(4096, 0x57)), () => (filler.bytes += 4096)))
            )
            yield* awaitStall(() => Effect.sync(() => filler.bytes), "the client's writer (wire paused)")
            yield* Fiber.interrupt(filling)
            const fiber = yield* Effect.forkChild(client.writer.write(fill(10, 0x58)), { startImmediately: true })
            yield* Effect.repeat(Effect.yieldNow, { times: random.int(0, 6) })
            // The server reads meanwhile: nothing but the paused wire may hold the writer back.
            const expected = filler.bytes + 10
            const reading = yield* Effect.forkChild(readBytes(server.reader, expected))
            yield* wire.resume("clientToServer")
            const exit = yield* Fiber.await(fiber).pipe(within(5_000, "a write on a full buffer was never woken"))
            assert.isTrue(Exit.isSuccess(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")
            const got = yield* Fiber.join(reading).pipe(within(5_000, "the server did not get the client's writes"))
            assert.strictEqual(got.length, expected)
          }
          yield* client.writer.end
          yield* readAll(server.reader)
        })
      )
  )
}
