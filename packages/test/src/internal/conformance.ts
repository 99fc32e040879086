import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import { isFatal, isTlsError, type TlsError } from "@effect-tls/core/TlsError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Capability, ConformanceOptions, ConformancePair } from "../Conformance.ts"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
class Prng {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = (this.next() * 256) | 0
    return out
  }
}

/** Collects chunks; `concat` joins them. */
class Collected {
  readonly parts: Array<Uint8Array> = []
  length = 0
  push(chunk: Uint8Array): void {
    // Copied: a chunk handed to a reader is the reader's, but the test keeps it past other reads.
    this.parts.push(chunk.slice())
    this.length += chunk.length
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length)
    let at = 0
    for (const part of this.parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  }
}

/** Asserts byte equality with a useful message (the first difference), without printing megabytes. */
const assertBytes = (actual: Uint8Array, expected: Uint8Array, what: string): void => {
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}`)
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: first difference at byte ${i} of ${expected.length}`)
  }
}

/** Splits `data` into chunks of random sizes in [1, max]. */
const randomChunks = (data: Uint8Array, rng: Prng, max: number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let at = 0; at < data.length; ) {
    const n = Math.min(rng.int(1, max), data.length - at)
    out.push(data.subarray(at, at + n))
    at += n
  }
  return out
}

/** Reads until the clean end. */
const readAll = (reader: TlsConnection.ReadHalf): Effect.Effect<Uint8Array, TlsError> =>
  Effect.suspend(() => {
    const collected = new Collected()
    const loop: Effect.Effect<Uint8Array, TlsError> = Effect.flatMap(reader.read, (chunk) => {
      if (Option.isNone(chunk)) return Effect.succeed(collected.concat())
      collected.push(chunk.value)
      return loop
    })
    return loop
  })

/** Reads exactly `n` bytes chunk by chunk (not with `readExactly`, so the read buffer limit holds). */
const readBytes = (reader: TlsConnection.ReadHalf, n: number): Effect.Effect<Uint8Array, TlsError | string> =>
  Effect.suspend(() => {
    const collected = new Collected()
    const loop: Effect.Effect<Uint8Array, TlsError | string> = Effect.suspend(() => {
      if (collected.length >= n) return Effect.succeed(collected.concat())
      return Effect.flatMap(reader.read, (chunk) => {
        if (Option.isNone(chunk)) return Effect.fail(`the stream ended after ${collected.length} of ${n} bytes`)
        collected.push(chunk.value)
        return loop
      })
    })
    return loop
  })

/** Writes chunks one `write` at a time. */
const writeChunks = (
  writer: TlsConnection.WriteHalf,
  chunks: ReadonlyArray<Uint8Array>
): Effect.Effect<void, TlsError> => Effect.forEach(chunks, (chunk) => writer.write(chunk), { discard: true })

/** Fails with `message` if `effect` takes longer than `millis`. */
const within =
  <A, E, R>(millis: number, message: string) =>
  (effect: Effect.Effect<A, E, R>) =>
    Effect.timeoutOrElse(effect, {
      duration: Duration.millis(millis),
      orElse: () => Effect.sync(() => assert.fail(`${message} (no result within ${millis} ms)`))
    })

/**
 * Waits until `progress()` stops changing (the same value over `stable`
 * samples `every` ms apart): the producer is blocked. Polling is the only way
 * to observe "nothing happens"; the loop is bounded by `limit` ms.
 */
const awaitStall = (progress: () => Effect.Effect<number>, what: string, options?: { readonly limit?: number }) =>
  Effect.gen(function* () {
    const every = 5
    const stable = 20
    const limit = options?.limit ?? 10_000
    let last = -1
    let same = 0
    for (let waited = 0; waited < limit; waited += every) {
      const now = yield* progress()
      if (now === last && now > 0) {
        if (++same >= stable) return now
      } else {
        same = 0
        last = now
      }
      yield* Effect.sleep(Duration.millis(every))
    }
    return assert.fail(`${what} never stalled within ${limit} ms`)
  })

/** A counter of bytes accepted by completed writes, for a writer that runs until interrupted. */
const writeForever = (writer: TlsConnection.WriteHalf, chunk: Uint8Array, accepted: { bytes: number }) =>
  Effect.forever(
    writer.write(chunk).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) accepted.bytes += chunk.length
        })
      )
    )
  )

const isTypedEndOrError = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return true
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) && isTlsError(error.value)
}

const describeExit = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause)

const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte)

// -----------------------------------------------------------------------------
// the suite
// -----------------------------------------------------------------------------

/** @internal */
export const conformance = (options: ConformanceOptions): void => {
  const scale = {
    interruptIterations: options.scale?.interruptIterations ?? 500,
    floodBytes: options.scale?.floodBytes ?? 64 * 1024 * 1024,
    transferBytes: options.scale?.transferBytes ?? 4 * 1024 * 1024,
    seed: options.scale?.seed ?? 0x5eed
  }
  const has = (capability: Capability): [boolean, string] => [
    options.capabilities?.includes(capability) ?? false,
    capability
  ]
  /** The capability of the pair, which the options declared. */
  const need = <A>(value: A | undefined, capability: string): A =>
    value ?? assert.fail(`"${capability}" is declared but missing`)
  const openResources = options.openResources
  const baseline = openResources ?? Effect.succeed(0)

  /** Runs `f` on a fresh pair in its own scope, then checks that nothing is left open. */
  const withPair = <A, E>(
    pairOptions: Parameters<ConformanceOptions["makePair"]>[0],
    f: (pair: ConformancePair) => Effect.Effect<A, E, Scope.Scope>
  ) =>
    Effect.gen(function* () {
      const before = yield* baseline
      const result = yield* Effect.scoped(Effect.flatMap(options.makePair(pairOptions), f))
      if (openResources !== undefined) {
        assert.strictEqual(yield* openResources, before, "resources left open after the scope closed")
      }
      return result
    })

  /** A test needing capabilities; skipped, with the missing ones in its name, when absent. */
  const test = (
    name: string,
    missing: ReadonlyArray<[boolean, string]>,
    body: () => Effect.Effect<unknown, unknown, Scope.Scope>,
    timeout = 30_000
  ) => {
    const absent = missing.filter(([present]) => !present).map(([, what]) => what)
    if (absent.length > 0) it.skip(`${name} (skipped: needs ${absent.join(", ")})`, () => Effect.void)
    else it.live(name, body, timeout)
  }

  describe(`conformance: ${options.name}`, () => {
    // 1 -------------------------------------------------------------------------
    test(
      "split-safety: a KeyUpdate answer produced while reading waits for the blocked write side, then goes out before later data",
      [has("wire"), has("requestKeyUpdate")],
      () =>
        withPair({}, (pair) =>
          Effect.gen(function* () {
            const { client, server } = pair
            const wire = need(pair.wire, "wire")
            const requestKeyUpdate = need(pair.requestKeyUpdate, "requestKeyUpdate")
            yield* wire.pause("clientToServer")
            // Block the client's write side: its writer fills every buffer down to the paused wire.
            const filler = { bytes: 0 }
            const fillerFiber = yield* Effect.forkChild(writeForever(client.writer, fill(4096, 0x46), filler))
            yield* awaitStall(() => Effect.sync(() => filler.bytes), "the client's writer (wire paused)")

            // The server asks for a KeyUpdate answer and keeps sending: the client must read all of it.
            yield* requestKeyUpdate("server")
            const rng = new Prng(scale.seed)
            const data = rng.bytes(256 * 1024)
            const serverWrite = yield* Effect.forkChild(writeChunks(server.writer, randomChunks(data, rng, 20_000)))
            const received = yield* readBytes(client.reader, data.length).pipe(
              within(10_000, "the client's reader stalled while its write side was blocked")
            )
            assertBytes(received, data, "server -> client while the client's write side was blocked")
            yield* Fiber.join(serverWrite)

            // Unblock, without the client writing anything new: the answer must go out by itself.
            yield* Fiber.interrupt(fillerFiber)
            const receivedKeyUpdate = server.events.pipe(
              Stream.filter(
                (event) => event._tag === "KeyUpdate" && event.direction === "received" && !event.requested
              ),
              Stream.take(1),
              Stream.runCollect
            )
            const eventFiber = yield* Effect.forkChild(receivedKeyUpdate)
            yield* wire.resume("clientToServer")
            const fillerBytes = yield* readBytes(server.reader, filler.bytes).pipe(
              within(10_000, "the server did not receive the client's queued data")
            )
            assert.strictEqual(fillerBytes.length, filler.bytes)
            yield* Fiber.join(eventFiber).pipe(within(5_000, "the server never saw the KeyUpdate answer"))

            // Later application data arrives after the answer.
            const later = new TextEncoder().encode("LATER-APPLICATION-DATA")
            yield* client.writer.write(later)
            yield* client.writer.flush
            assertBytes(yield* readBytes(server.reader, later.length), later, "data written after the answer")
            if (options.capabilities?.includes("receivedRecords")) {
              const receivedRecords = need(pair.receivedRecords, "receivedRecords")
              const records = yield* receivedRecords("server")
              const answer = records.lastIndexOf("keyUpdate")
              assert.isAtLeast(answer, 0, "no KeyUpdate record reached the server")
              assert.isBelow(answer, records.lastIndexOf("data"), "the KeyUpdate answer came after later data")
            }
          })
        )
    )

    test(
      "control data never waits on the application: a KeyUpdate answer goes out although the application never writes again",
      [has("wire"), has("requestKeyUpdate")],
      () =>
        withPair({}, (pair) =>
          Effect.gen(function* () {
            const { client, server } = pair
            const wire = need(pair.wire, "wire")
            const requestKeyUpdate = need(pair.requestKeyUpdate, "requestKeyUpdate")
            // The client's last application write is taken by the transport (but held on
            // the paused wire) before the KeyUpdate arrives: no later write can carry the answer.
            yield* wire.pause("clientToServer")
            const last = new TextEncoder().encode("the client's last write")
            yield* client.writer.write(last)
            yield* client.writer.flush.pipe(within(5_000, "a small write was not taken by the paused transport"))
            const answered = yield* Effect.forkChild(
              server.events.pipe(
                Stream.filter(
                  (event) => event._tag === "KeyUpdate" && event.direction === "received" && !event.requested
                ),
                Stream.take(1),
                Stream.runCollect
              )
            )
            yield* requestKeyUpdate("server")
            const data = new Prng(scale.seed + 1).bytes(64 * 1024)
            yield* Effect.forkChild(server.writer.write(data))
            assertBytes(yield* readBytes(client.reader, data.length), data, "server -> client after the request")
            yield* wire.resume("clientToServer")
            assertBytes(yield* readBytes(server.reader, last.length), last, "the client's last write")
            yield* Fiber.join(answered).pipe(
              within(5_000, "the KeyUpdate answer was not sent (is it waiting for an application write?)")
            )
          })
        )
    )

    // 2 -------------------------------------------------------------------------
    it.live(
      "read interrupted at random points loses and duplicates nothing",
      () =>
        withPair({}, ({ client, server }) =>
          Effect.gen(function* () {
            const rng = new Prng(scale.seed + 2)
            const data = rng.bytes(Math.min(scale.transferBytes, 2 * 1024 * 1024))
            // The server trickles the data (yielding between writes) so that the
            // interrupts land while a transfer is in progress, not after it.
            const pace = new Prng(scale.seed + 20)
            const writer = yield* Effect.forkChild(
              Effect.andThen(
                Effect.forEach(
                  randomChunks(data, pace, 2000),
                  (chunk) =>
                    Effect.andThen(
                      server.writer.write(chunk),
                      Effect.repeat(Effect.yieldNow, { times: pace.int(0, 10) })
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
              rng.next() < 0.7
                ? client.reader.read.pipe(
                    Effect.onExit((exit) =>
                      Effect.sync(() => {
                        if (Exit.isSuccess(exit)) {
                          if (Option.isSome(exit.value)) received.push(exit.value.value)
                          else ended = true
                        }
                      })
                    ),
                    Effect.asVoid
                  )
                : client.reader.readExactly(rng.int(1, 5000)).pipe(
                    Effect.onExit((exit) =>
                      Effect.sync(() => {
                        if (Exit.isSuccess(exit)) received.push(exit.value)
                      })
                    ),
                    Effect.asVoid,
                    // At the end an exact read fails with EndOfStream, consuming nothing.
                    Effect.catchTag("TlsStateError", () => Effect.void)
                  )
            )
            const readLoop = Effect.whileLoop({ while: () => !ended, body: () => readOnce, step: () => {} })
            let interrupted = 0
            for (let i = 0; i < scale.interruptIterations && !ended; i++) {
              const fiber = yield* Effect.forkChild(readLoop)
              const pause = rng.int(0, 3)
              if (pause === 0) yield* Effect.sleep(Duration.micros(BigInt(rng.int(0, 500))))
              else for (let y = rng.int(0, 20); y > 0; y--) yield* Effect.yieldNow
              yield* Fiber.interrupt(fiber)
              if (!ended) interrupted++
            }
            // Most interrupts must have hit a transfer in progress, or the test proves little.
            assert.isAtLeast(interrupted, Math.min(100, scale.interruptIterations / 2), "the transfer ended too early")
            yield* readLoop.pipe(within(10_000, "the final reader did not reach the end"))
            yield* Fiber.join(writer)
            assertBytes(received.concat(), data, "bytes received across interrupted reads")
          })
        ),
      60_000
    )

    // 3 -------------------------------------------------------------------------
    it.live(
      "write interrupted at random points: the peer gets exactly the completed writes, in order",
      () =>
        withPair({ client: { writeBufferBytes: 8 * 1024 } }, ({ client, server }) =>
          Effect.gen(function* () {
            const rng = new Prng(scale.seed + 3)
            // The server reads slowly, so that writers often wait for buffer space
            // and interrupts land inside a blocked write.
            const pace = new Prng(scale.seed + 30)
            const slowReader = Effect.suspend(() => {
              const collected = new Collected()
              const loop: Effect.Effect<Uint8Array, TlsError> = Effect.flatMap(server.reader.read, (chunk) => {
                if (Option.isNone(chunk)) return Effect.succeed(collected.concat())
                collected.push(chunk.value)
                return Effect.andThen(Effect.repeat(Effect.yieldNow, { times: pace.int(0, 20) }), loop)
              })
              return loop
            })
            const reader = yield* Effect.forkChild(slowReader)
            const completed: Array<number> = []
            let seq = 0
            // Chunk: [seq:4][length:4][length bytes of (seq & 0xff)], unique by seq.
            const writeOne = Effect.suspend(() => {
              const id = ++seq
              const length = rng.int(1, 3000)
              const chunk = new Uint8Array(8 + length).fill(id & 0xff)
              const view = new DataView(chunk.buffer)
              view.setUint32(0, id)
              view.setUint32(4, length)
              return client.writer.write(chunk).pipe(
                Effect.onExit((exit) =>
                  Effect.sync(() => {
                    if (Exit.isSuccess(exit)) completed.push(id)
                  })
                )
              )
            })
            for (let i = 0; i < scale.interruptIterations; i++) {
              const fiber = yield* Effect.forkChild(Effect.forever(writeOne))
              const pause = rng.int(0, 3)
              if (pause === 0) yield* Effect.sleep(Duration.micros(BigInt(rng.int(0, 500))))
              else for (let y = rng.int(0, 20); y > 0; y--) yield* Effect.yieldNow
              yield* Fiber.interrupt(fiber)
            }
            yield* client.writer.end
            const bytes = yield* Fiber.join(reader).pipe(within(10_000, "the server did not reach the end"))
            const seen: Array<number> = []
            const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            let at = 0
            while (at < bytes.length) {
              assert.isAtMost(at + 8, bytes.length, "a partial chunk header reached the peer")
              const id = view.getUint32(at)
              const length = view.getUint32(at + 4)
              assert.isAtMost(at + 8 + length, bytes.length, `a partial chunk (#${id}) reached the peer`)
              for (let i = at + 8; i < at + 8 + length; i++) {
                if (bytes[i] !== (id & 0xff)) assert.fail(`chunk #${id} is corrupt`)
              }
              seen.push(id)
              at += 8 + length
            }
            assert.deepStrictEqual(seen, completed, "the peer's chunks differ from the completed writes")
            // Some writes must have been interrupted while waiting, or the test proves little.
            assert.isAtLeast(
              seq - completed.length,
              Math.min(50, scale.interruptIterations / 10),
              "no write was interrupted"
            )
            assert.isAbove(completed.length, 0)
          })
        ),
      60_000
    )

    // 4 -------------------------------------------------------------------------
    it.live("a reader that never reads does not stop the writer", () =>
      withPair(
        { client: { closeTimeout: Duration.seconds(1) }, server: { closeTimeout: Duration.seconds(1) } },
        ({ client, server }) =>
          Effect.gen(function* () {
            // The server floods the client, whose application never reads.
            const flood = yield* Effect.forkChild(writeForever(server.writer, fill(16 * 1024, 0x53), { bytes: 0 }))
            const rng = new Prng(scale.seed + 4)
            const data = rng.bytes(scale.transferBytes)
            const writer = yield* Effect.forkChild(writeChunks(client.writer, randomChunks(data, rng, 32 * 1024)))
            const received = yield* readBytes(server.reader, data.length).pipe(
              within(20_000, "the client's writes stopped while its reader did not read")
            )
            assertBytes(received, data, "client -> server while the client did not read")
            yield* Fiber.join(writer)
            yield* Fiber.interrupt(flood)
          })
      )
    )

    it.live("a blocked writer does not stop the reader", () =>
      withPair(
        { client: { closeTimeout: Duration.seconds(1) }, server: { closeTimeout: Duration.seconds(1) } },
        ({ client, server }) =>
          Effect.gen(function* () {
            // The client writes to a server that never reads: its writer blocks.
            const accepted = { bytes: 0 }
            const blocked = yield* Effect.forkChild(writeForever(client.writer, fill(16 * 1024, 0x43), accepted))
            yield* awaitStall(() => Effect.sync(() => accepted.bytes), "the client's writer (server not reading)")
            const rng = new Prng(scale.seed + 5)
            const data = rng.bytes(scale.transferBytes)
            const writer = yield* Effect.forkChild(writeChunks(server.writer, randomChunks(data, rng, 32 * 1024)))
            const received = yield* readBytes(client.reader, data.length).pipe(
              within(20_000, "the client's reads stopped while its writer was blocked")
            )
            assertBytes(received, data, "server -> client while the client's writer was blocked")
            yield* Fiber.join(writer)
            yield* Fiber.interrupt(blocked)
          })
      )
    )

    // 5 -------------------------------------------------------------------------
    it.live(
      "bounded memory: a flood while the application does not read stays within the read buffer, then all arrives",
      () => {
        const readBufferBytes = 64 * 1024
        // The read buffer may exceed its limit by one chunk, at most one TLS record.
        const bound = readBufferBytes + 16 * 1024
        return withPair({ client: { readBufferBytes } }, ({ client, server }) =>
          Effect.gen(function* () {
            const block = new Prng(scale.seed + 6).bytes(64 * 1024)
            const chunks = Math.ceil(scale.floodBytes / block.length)
            const total = chunks * block.length
            const flood = yield* Effect.forkChild(
              Effect.andThen(
                Effect.forEach(Array.from({ length: chunks }), () => server.writer.write(block), { discard: true }),
                server.writer.end
              )
            )
            let maxBuffered = 0
            const sample = Effect.map(client.stats, (stats) => {
              maxBuffered = Math.max(maxBuffered, stats.readBuffered)
              return stats
            })
            const stalledAt = yield* awaitStall(
              () => Effect.zipWith(sample, server.stats, (_, serverStats) => serverStats.bytesWritten),
              "the flooding server"
            )
            assert.isBelow(stalledAt, total, "the sender was never held back")
            assert.isAtMost(maxBuffered, bound, "the read buffer exceeded its limit while nobody read")

            // Now read everything, sampling as we go.
            let got = 0
            const loop: Effect.Effect<void, TlsError | string> = Effect.flatMap(client.reader.read, (chunk) => {
              if (Option.isNone(chunk)) return Effect.void
              const bytes = chunk.value
              for (let i = 0; i < bytes.length; i++) {
                if (bytes[i] !== block[(got + i) % block.length]) return Effect.fail(`corrupt byte at ${got + i}`)
              }
              got += bytes.length
              return (got & 0xfffff) < bytes.length ? Effect.andThen(sample, loop) : loop
            })
            yield* loop.pipe(within(60_000, "the flood did not arrive once reading started"))
            assert.strictEqual(got, total)
            assert.isAtMost(maxBuffered, bound, "the read buffer exceeded its limit")
            yield* Fiber.join(flood)
          })
        )
      },
      90_000
    )

    // 6 -------------------------------------------------------------------------
    it.live("half-close both ways: close_notify after all data, WriteAfterEnd, the other half keeps working", () =>
      Effect.forEach(
        ["client", "server"] as const,
        (first) =>
          withPair({}, (pair) =>
            Effect.gen(function* () {
              const a = first === "client" ? pair.client : pair.server
              const b = first === "client" ? pair.server : pair.client
              const rng = new Prng(scale.seed + (first === "client" ? 7 : 8))
              const data = rng.bytes(300 * 1024)
              // No flush before end: end itself must send every pending byte before close_notify.
              const aWrites = yield* Effect.forkChild(
                Effect.andThen(writeChunks(a.writer, randomChunks(data, rng, 10_000)), a.writer.end)
              )
              assertBytes(yield* readAll(b.reader), data, `${first}'s data before its close_notify`)
              yield* Fiber.join(aWrites)
              const refused = yield* Effect.flip(a.writer.write("too late"))
              assert.strictEqual(refused._tag, "TlsStateError")
              assert.strictEqual(refused._tag === "TlsStateError" && refused.reason, "WriteAfterEnd")
              // The other direction still works.
              const reply = rng.bytes(100 * 1024)
              yield* Effect.forkChild(
                Effect.andThen(writeChunks(b.writer, randomChunks(reply, rng, 10_000)), b.writer.end)
              )
              assertBytes(yield* readAll(a.reader), reply, "the reply after the first half-close")
              for (const [side, connection] of [
                ["a", a],
                ["b", b]
              ] as const) {
                const outcome = yield* connection.closed.pipe(within(5_000, `${side} did not close`))
                assert.strictEqual(outcome._tag, "Clean", `${side}: ${JSON.stringify(outcome)}`)
                if (outcome._tag === "Clean") {
                  assert.isTrue(outcome.closeNotifySent, `${side}: close_notify not sent`)
                  if (options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
                }
              }
            })
          ),
        { discard: true }
      )
    )

    // 7 -------------------------------------------------------------------------
    it.live("scope close wakes a blocked reader and writer with an end or a typed error, and leaves nothing", () =>
      Effect.gen(function* () {
        const before = yield* baseline
        const scope = yield* Scope.make()
        const closeTimeout = 500
        const { client } = yield* options
          .makePair({ client: { closeTimeout: Duration.millis(closeTimeout) } })
          .pipe(Scope.provide(scope))
        // Nothing comes from the server, and the server never reads.
        const reader = yield* Effect.forkChild(client.reader.read)
        const accepted = { bytes: 0 }
        const writer = yield* Effect.forkChild(writeForever(client.writer, fill(8192, 0x57), accepted))
        yield* awaitStall(() => Effect.sync(() => accepted.bytes), "the client's writer")
        const started = Date.now()
        yield* Scope.close(scope, Exit.void).pipe(within(closeTimeout + 5_000, "the scope did not close"))
        const elapsed = Date.now() - started
        assert.isBelow(elapsed, closeTimeout + 3_000, "closing took far longer than the close timeout")
        const readerExit = yield* Fiber.await(reader).pipe(within(2_000, "the blocked reader was not woken"))
        const writerExit = yield* Fiber.await(writer).pipe(within(2_000, "the blocked writer was not woken"))
        assert.isTrue(isTypedEndOrError(readerExit), `reader: ${describeExit(readerExit)}`)
        assert.isTrue(
          Exit.isFailure(writerExit) && isTypedEndOrError(writerExit),
          `writer: ${describeExit(writerExit)}`
        )
        yield* client.closed.pipe(within(1_000, "closed did not resolve after the scope closed"))
        if (openResources !== undefined) assert.strictEqual(yield* openResources, before)
      })
    )

    test("scope close towards a stalled peer ends Forced within the close timeout", [has("wire")], () =>
      Effect.gen(function* () {
        const before = yield* baseline
        const scope = yield* Scope.make()
        const closeTimeout = 300
        const pair = yield* options
          .makePair({ client: { closeTimeout: Duration.millis(closeTimeout) } })
          .pipe(Scope.provide(scope))
        yield* need(pair.wire, "wire").pause("clientToServer")
        const accepted = { bytes: 0 }
        const writer = yield* Effect.forkChild(writeForever(pair.client.writer, fill(8192, 0x57), accepted))
        yield* awaitStall(() => Effect.sync(() => accepted.bytes), "the client's writer (wire paused)")
        const started = Date.now()
        yield* Scope.close(scope, Exit.void).pipe(within(closeTimeout + 5_000, "the scope did not close"))
        assert.isBelow(Date.now() - started, closeTimeout + 3_000)
        const outcome = yield* pair.client.closed
        assert.strictEqual(outcome._tag, "Forced", JSON.stringify(outcome))
        yield* Fiber.await(writer).pipe(within(2_000, "the blocked writer was not woken"))
        if (openResources !== undefined) assert.strictEqual(yield* openResources, before)
      })
    )

    // 8 -------------------------------------------------------------------------
    test(
      "handshake timeout against a silent peer",
      [[options.makeSilentServerPair !== undefined, "makeSilentServerPair"]],
      () =>
        Effect.gen(function* () {
          const makeSilent = need(options.makeSilentServerPair, "makeSilentServerPair")
          const before = yield* baseline
          const started = Date.now()
          const error = yield* Effect.scoped(
            Effect.flip(makeSilent({ client: { handshakeTimeout: Duration.millis(300) } }))
          ).pipe(within(5_000, "the handshake timeout did not fire"))
          const elapsed = Date.now() - started
          assert.strictEqual(error._tag, "TlsHandshakeError", error.message)
          assert.strictEqual(error._tag === "TlsHandshakeError" && error.reason, "Timeout")
          assert.isAtLeast(elapsed, 250)
          if (openResources !== undefined) assert.strictEqual(yield* openResources, before)
        })
    )

    test(
      "a handshake failure is reported with its reason",
      [[options.makeFailingHandshakePair !== undefined, "makeFailingHandshakePair"]],
      () =>
        Effect.gen(function* () {
          const makeFailing = need(options.makeFailingHandshakePair, "makeFailingHandshakePair")
          const before = yield* baseline
          const failing = makeFailing()
          const error = yield* Effect.scoped(Effect.flip(failing.connect)).pipe(
            within(10_000, "the failing handshake did not end")
          )
          assert.strictEqual(error._tag, "TlsHandshakeError", error.message)
          assert.strictEqual(error._tag === "TlsHandshakeError" && error.reason, failing.reason)
          if (openResources !== undefined) assert.strictEqual(yield* openResources, before)
        })
    )

    // 9 -------------------------------------------------------------------------
    const truncationBody = (detectable: boolean) => () =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const wire = need(pair.wire, "wire")
          const data = new TextEncoder().encode("data before the transport ends")
          yield* server.writer.write(data)
          yield* server.writer.flush
          assertBytes(yield* readBytes(client.reader, data.length), data, "data before EOF")
          yield* wire.endWithoutCloseNotify("serverToClient")
          const exit = yield* Effect.exit(client.reader.read).pipe(within(5_000, "the read did not see the EOF"))
          if (detectable) {
            assert.isTrue(Exit.isFailure(exit), `a truncated stream read as ${describeExit(exit)}`)
            const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
            assert.isTrue(
              Option.isSome(error) && error.value._tag === "TlsTruncationError",
              `expected TlsTruncationError, got ${describeExit(exit)}`
            )
          } else {
            assert.isTrue(
              Exit.isSuccess(exit) && Option.isNone(exit.value),
              `expected a clean end, got ${describeExit(exit)}`
            )
          }
          yield* client.writer.end
          const outcome = yield* client.closed.pipe(within(5_000, "the client did not close"))
          if (detectable) assert.strictEqual(outcome._tag, "Truncated", JSON.stringify(outcome))
          else {
            assert.strictEqual(outcome._tag, "Clean", JSON.stringify(outcome))
            assert.isFalse(outcome._tag === "Clean" && outcome.closeNotifyReceived)
          }
        })
      )
    test(
      "truncation: a transport EOF without close_notify is a TlsTruncationError and Truncated, not a clean end",
      [has("wire"), [options.truncationDetectable, "detectable truncation"]],
      truncationBody(true)
    )
    test(
      "truncation not detectable: a transport EOF without close_notify is a clean end with closeNotifyReceived false",
      [has("wire"), [!options.truncationDetectable, "undetectable truncation (this is the fallback)"]],
      truncationBody(false)
    )

    // 10 ------------------------------------------------------------------------
    test(
      "a fatal engine error destroys the transport, fails both halves, and closed is Failed",
      [has("injectFatalError")],
      () =>
        withPair({}, (pair) =>
          Effect.gen(function* () {
            const { client, server } = pair
            const injectFatalError = need(pair.injectFatalError, "injectFatalError")
            const open = yield* baseline
            const reader = yield* Effect.forkChild(client.reader.read)
            yield* injectFatalError("client")
            const readerExit = yield* Fiber.await(reader).pipe(within(5_000, "the reader was not failed"))
            const readError = Exit.isFailure(readerExit) ? Cause.findErrorOption(readerExit.cause) : Option.none()
            assert.isTrue(Option.isSome(readError) && isTlsError(readError.value), describeExit(readerExit))
            const error = Option.getOrThrow(readError)
            assert.isTrue(isFatal(error), `${error._tag} is not fatal`)
            const writeError = yield* Effect.flip(client.writer.write("after the failure"))
            assert.strictEqual(writeError, error, "the write half failed with another error")
            const outcome = yield* client.closed.pipe(within(5_000, "closed did not resolve"))
            assert.strictEqual(outcome._tag, "Failed")
            assert.strictEqual(outcome._tag === "Failed" && outcome.error, error)
            if (openResources !== undefined) {
              assert.isBelow(yield* openResources, open, "the failed side's transport was not destroyed")
            }
            // The peer sees the end, never a hang.
            const peer = yield* Effect.exit(readAll(server.reader)).pipe(within(5_000, "the peer's reader hung"))
            assert.isTrue(isTypedEndOrError(peer), describeExit(peer))
          })
        )
    )

    // 11 ------------------------------------------------------------------------
    test("single owner: only one fiber ever called each engine", [has("engineCallers")], () =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const engineCallers = need(pair.engineCallers, "engineCallers")
          const rng = new Prng(scale.seed + 11)
          const up = rng.bytes(256 * 1024)
          const down = rng.bytes(256 * 1024)
          if (pair.requestKeyUpdate !== undefined) {
            yield* pair.requestKeyUpdate("client")
            yield* pair.requestKeyUpdate("server")
          }
          const [, , upReceived, downReceived] = yield* Effect.all(
            [
              Effect.andThen(writeChunks(client.writer, randomChunks(up, rng, 20_000)), client.writer.end),
              Effect.andThen(writeChunks(server.writer, randomChunks(down, rng, 20_000)), server.writer.end),
              readAll(server.reader),
              readAll(client.reader)
            ],
            { concurrency: "unbounded" }
          ).pipe(within(10_000, "the transfer did not finish"))
          assertBytes(upReceived, up, "client -> server")
          assertBytes(downReceived, down, "server -> client")
          for (const side of ["client", "server"] as const) {
            const callers = yield* engineCallers(side)
            assert.strictEqual(callers.length, 1, `${side}'s engine was called by ${JSON.stringify(callers)}`)
            assert.notInclude(callers as Array<unknown>, "none", `${side}'s engine was called outside any fiber`)
          }
        })
      )
    )

    // 12 ------------------------------------------------------------------------
    it.live("ordered exactly-once delivery on a graceful close, both directions at once", () =>
      withPair({}, ({ client, server }) =>
        Effect.gen(function* () {
          const rng = new Prng(scale.seed + 12)
          const up = rng.bytes(scale.transferBytes)
          const down = rng.bytes(scale.transferBytes)
          const send = (connection: TlsConnection.TlsConnection, data: Uint8Array) =>
            Effect.gen(function* () {
              // Mixed single writes and writeAll batches of random sizes.
              const chunks = randomChunks(data, rng, 40_000)
              for (let i = 0; i < chunks.length; ) {
                const n = rng.int(1, 4)
                const batch = chunks.slice(i, i + n)
                if (batch.length === 1) yield* connection.writer.write(batch[0] as Uint8Array)
                else yield* connection.writer.writeAll(batch)
                i += n
              }
              yield* connection.writer.end
            })
          const [, , upReceived, downReceived] = yield* Effect.all(
            [send(client, up), send(server, down), readAll(server.reader), readAll(client.reader)],
            { concurrency: "unbounded" }
          ).pipe(within(30_000, "the transfer did not finish"))
          assertBytes(upReceived, up, "client -> server")
          assertBytes(downReceived, down, "server -> client")
          for (const connection of [client, server]) {
            const outcome = yield* connection.closed.pipe(within(5_000, "the connection did not close"))
            assert.strictEqual(outcome._tag, "Clean", JSON.stringify(outcome))
            if (outcome._tag === "Clean") {
              assert.isTrue(outcome.closeNotifySent)
              if (options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
            }
          }
        })
      )
    )
  })
}
