/**
 * Contract points 1 and 5 to 12: single owner, bounded memory, ordered
 * delivery on a graceful close, flush, half-close, structured lifetime,
 * timeouts, truncation and fatal errors.
 */
import { assert } from "@effect/vitest"
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
import type { FailingHandshake } from "../../Conformance.ts"
import {
  assertBytes,
  awaitStall,
  Collected,
  type Context,
  describeExit,
  fill,
  isTypedEndOrError,
  type Registration,
  randomChunks,
  readAll,
  readBytes,
  within,
  writeChunks,
  writeForever
} from "./support.ts"

export const register = ({ contract, has, need, options }: Registration): void => {
  // 1 ---------------------------------------------------------------------------
  contract(
    [1],
    "single owner: only one fiber ever called each engine, with flush, end, stats and events in the traffic",
    [has("engineCallers")],
    ({ run, withPair }) =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const engineCallers = need(pair.engineCallers, "engineCallers")
          const up = run.random.bytes(256 * 1024)
          const down = run.random.bytes(256 * 1024)
          if (pair.requestKeyUpdate !== undefined) {
            yield* pair.requestKeyUpdate("client")
            yield* pair.requestKeyUpdate("server")
          }
          // Every application-facing operation, from fibers of their own.
          const send = (connection: TlsConnection.TlsConnection, data: Uint8Array) =>
            Effect.gen(function* () {
              const chunks = randomChunks(data, run.random, 20_000)
              for (let i = 0; i < chunks.length; i++) {
                yield* connection.writer.write(chunks[i] as Uint8Array)
                if (i % 5 === 0) yield* connection.writer.flush
                if (i % 7 === 0) yield* connection.stats
              }
              yield* connection.writer.end
            })
          const follow = (connection: TlsConnection.TlsConnection) =>
            Effect.forkChild(Stream.runDrain(Stream.take(connection.events, 100)))
          yield* follow(client)
          yield* follow(server)
          const [, , upReceived, downReceived] = yield* Effect.all(
            [send(client, up), send(server, down), readAll(server.reader), readAll(client.reader)],
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

  // 5 ---------------------------------------------------------------------------
  contract(
    [5],
    "bounded memory: a flood while the application does not read stays within the read buffer, then all arrives",
    [],
    ({ run, scale, withPair }) => {
      const readBufferBytes = 64 * 1024
      // The read buffer may exceed its limit by one chunk, at most one TLS record.
      const bound = readBufferBytes + 16 * 1024
      return withPair({ client: { readBufferBytes } }, ({ client, server }) =>
        Effect.gen(function* () {
          const block = run.random.bytes(64 * 1024)
          // The server writes until it is held back: how much that takes depends on what the
          // transport itself buffers (tens of megabytes on some loopbacks), so it is not fixed.
          const limit = Math.ceil(Math.max(scale.floodBytes, 256 * 1024 * 1024) / block.length)
          const accepted = { bytes: 0 }
          const flood = yield* Effect.forkChild(
            Effect.forEach(
              Array.from({ length: limit }),
              () => Effect.map(server.writer.write(block), () => (accepted.bytes += block.length)),
              { discard: true }
            )
          )
          let maxBuffered = 0
          const sample = Effect.map(client.stats, (stats) => {
            maxBuffered = Math.max(maxBuffered, stats.readBuffered)
            return stats
          })
          yield* awaitStall(
            () =>
              Effect.zipWith(
                sample,
                Effect.sync(() => accepted.bytes),
                (_, bytes) => bytes
              ),
            "the flooding server",
            { limit: 30_000 }
          )
          assert.isBelow(accepted.bytes, limit * block.length, "the sender was never held back")
          assert.isAtMost(maxBuffered, bound, "the read buffer exceeded its limit while nobody read")
          // A write interrupted while held back accepted nothing: `accepted` is what the peer must get.
          yield* Fiber.interrupt(flood)
          const total = accepted.bytes
          yield* Effect.forkChild(server.writer.end)

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
        })
      )
    },
    { timeout: 90_000 }
  )

  // 6 ---------------------------------------------------------------------------
  contract(
    [6],
    "ordered exactly-once delivery on a graceful close, both directions at once",
    [],
    ({ run, scale, withPair, options }) =>
      withPair({}, ({ client, server }) =>
        Effect.gen(function* () {
          const up = run.random.bytes(scale.transferBytes)
          const down = run.random.bytes(scale.transferBytes)
          const send = (connection: TlsConnection.TlsConnection, data: Uint8Array) =>
            Effect.gen(function* () {
              // Mixed single writes and writeAll batches of random sizes.
              const chunks = randomChunks(data, run.random, 40_000)
              for (let i = 0; i < chunks.length; ) {
                const n = run.random.int(1, 4)
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
              assert.isTrue(outcome.peerEnded, "the peer ended before the close")
              if (options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
            }
          }
        })
      )
  )

  contract(
    [6],
    "graceful close under load: slow readers, small read buffers, both sides end, every completed write arrives",
    [],
    ({ run, scale, withPair, options }) =>
      withPair({ client: { readBufferBytes: 4096 }, server: { readBufferBytes: 4096 } }, ({ client, server }) =>
        Effect.gen(function* () {
          const total = Math.min(scale.transferBytes, 4 * 1024 * 1024)
          const side = (connection: TlsConnection.TlsConnection, data: Uint8Array) =>
            Effect.all(
              [
                Effect.andThen(
                  writeChunks(connection.writer, randomChunks(data, run.random, 16 * 1024)),
                  connection.writer.end
                ),
                // A slow reader: a pause every 8 reads, so the read buffer is often full at the close.
                Effect.suspend(() => {
                  const collected = new Collected()
                  let reads = 0
                  const loop: Effect.Effect<Uint8Array, TlsError> = Effect.flatMap(connection.reader.read, (chunk) => {
                    if (Option.isNone(chunk)) return Effect.succeed(collected.concat())
                    collected.push(chunk.value)
                    return ++reads % 8 === 0 ? Effect.andThen(Effect.sleep(Duration.millis(1)), loop) : loop
                  })
                  return loop
                })
              ],
              { concurrency: 2 }
            )
          const up = run.random.bytes(total)
          const down = run.random.bytes(total)
          const [[, atClient], [, atServer]] = yield* Effect.all([side(client, up), side(server, down)], {
            concurrency: 2
          }).pipe(within(30_000, "the graceful close under load did not finish"))
          assertBytes(atServer, up, "client -> server")
          assertBytes(atClient, down, "server -> client")
          for (const connection of [client, server]) {
            const outcome = yield* connection.closed.pipe(within(5_000, "the connection did not close"))
            assert.strictEqual(outcome._tag, "Clean", JSON.stringify(outcome))
            if (outcome._tag === "Clean") {
              assert.isTrue(outcome.closeNotifySent)
              assert.isTrue(outcome.peerEnded, "the peer ended before the close")
              if (options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
            }
          }
        })
      ),
    { timeout: 60_000 }
  )

  contract(
    [6],
    "flush waits while the wire is paused and completes once the bytes were handed on",
    [has("wire")],
    ({ run, withPair }) =>
      withPair({ client: { writeBufferBytes: 16 * 1024 } }, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const wire = need(pair.wire, "wire")
          yield* wire.pause("clientToServer")
          // The writer runs until everything between it and the paused wire is full:
          // some accepted bytes then wait in the write buffer, where no flush can finish.
          const data = run.random.bytes(8 * 1024 * 1024)
          const writer = yield* Effect.forkChild(writeChunks(client.writer, randomChunks(data, run.random, 32 * 1024)))
          yield* awaitStall(() => Effect.map(client.stats, (stats) => stats.bytesWritten), "the client (wire paused)")
          const stalled = yield* client.stats
          assert.isAbove(stalled.writeBuffered, 0, "nothing waits in the write buffer: the test proves nothing")
          const flushed = { done: false }
          const flusher = yield* Effect.forkChild(
            Effect.andThen(
              client.writer.flush,
              Effect.sync(() => {
                flushed.done = true
              })
            )
          )
          // Polling for "still waiting" is the only way to see that nothing happens; bounded.
          yield* Effect.repeat(Effect.sleep(Duration.millis(5)), { times: 20 })
          assert.isFalse(flushed.done, "flush completed while the wire was paused and bytes were still buffered")
          const reading = yield* Effect.forkChild(readBytes(server.reader, data.length))
          yield* wire.resume("clientToServer")
          const received = yield* Fiber.join(reading).pipe(within(20_000, "the data did not arrive"))
          yield* Fiber.join(writer)
          yield* Fiber.join(flusher).pipe(within(5_000, "flush did not complete once the wire resumed"))
          assertBytes(received, data, "client -> server")
        })
      ),
    { timeout: 60_000 }
  )

  contract(
    [8],
    "half-close both ways: close_notify after all data, WriteAfterEnd, the other half keeps working",
    [],
    ({ run, withPair, options }) =>
      Effect.forEach(
        ["client", "server"] as const,
        (first) =>
          withPair({}, (pair) =>
            Effect.gen(function* () {
              const a = first === "client" ? pair.client : pair.server
              const b = first === "client" ? pair.server : pair.client
              const data = run.random.bytes(300 * 1024)
              // No flush before end: end itself must send every pending byte before close_notify.
              const aWrites = yield* Effect.forkChild(
                Effect.andThen(writeChunks(a.writer, randomChunks(data, run.random, 10_000)), a.writer.end)
              )
              assertBytes(yield* readAll(b.reader), data, `${first}'s data before its close_notify`)
              yield* Fiber.join(aWrites)
              const refused = yield* Effect.flip(a.writer.write("too late"))
              assert.strictEqual(refused._tag, "TlsStateError")
              assert.strictEqual(refused._tag === "TlsStateError" && refused.reason._tag, "WriteAfterEnd")
              // The other direction still works.
              const reply = run.random.bytes(100 * 1024)
              yield* Effect.forkChild(
                Effect.andThen(writeChunks(b.writer, randomChunks(reply, run.random, 10_000)), b.writer.end)
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
                  assert.isTrue(outcome.peerEnded, `${side}: the peer's end not seen`)
                  if (options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
                }
              }
            })
          ),
        { discard: true }
      )
  )

  // 7 ---------------------------------------------------------------------------
  /**
   * A pair in a scope the test closes itself, with `closeTimeout` on both
   * sides, and a check that nothing the implementation counts is left open.
   */
  const closablePair = (context: Context, closeTimeout: number) =>
    Effect.gen(function* () {
      const before = yield* context.baseline
      const scope = yield* Scope.make()
      const bound = { closeTimeout: Duration.millis(closeTimeout) }
      const pair = yield* options.makePair({ client: bound, server: bound }).pipe(Scope.provide(scope))
      const leftNothing = Effect.gen(function* () {
        if (options.openResources !== undefined) assert.strictEqual(yield* options.openResources, before)
      })
      return { pair, scope, leftNothing }
    })

  contract(
    [7],
    "scope close wakes a blocked reader and writer with an end or a typed error, and leaves nothing",
    [],
    (context) =>
      Effect.gen(function* () {
        const closeTimeout = 500
        const { pair, scope, leftNothing } = yield* closablePair(context, closeTimeout)
        const { client } = pair
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
        yield* leftNothing
      })
  )

  contract(
    [7],
    "scope close wakes a blocked reader itself, with the peer's close_notify held on the paused wire",
    [has("wire")],
    (context) =>
      Effect.gen(function* () {
        const { pair, scope, leftNothing } = yield* closablePair(context, 300)
        const wire = need(pair.wire, "wire")
        // Nothing the server sends (its close_notify included) can wake the reader.
        yield* wire.pause("serverToClient")
        const reader = yield* Effect.forkChild(pair.client.reader.read)
        yield* Effect.repeat(Effect.yieldNow, { times: 10 })
        yield* Scope.close(scope, Exit.void).pipe(within(5_000, "the scope did not close"))
        const readerExit = yield* Fiber.await(reader).pipe(
          within(2_000, "the blocked reader was not woken by the close")
        )
        assert.isTrue(isTypedEndOrError(readerExit), `reader: ${describeExit(readerExit)}`)
        yield* leftNothing
      })
  )

  contract([7], "scope close towards a stalled peer ends Forced within the close timeout", [has("wire")], (context) =>
    Effect.gen(function* () {
      const closeTimeout = 300
      const { pair, scope, leftNothing } = yield* closablePair(context, closeTimeout)
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
      yield* leftNothing
    })
  )

  // 12 and 9 ------------------------------------------------------------------
  /** A handshake that must fail with `reason`, within `bound` ms, leaving nothing open. */
  const failingHandshake = (
    points: ReadonlyArray<number>,
    name: string,
    need: readonly [boolean, string],
    make: () => { readonly reason: FailingHandshake["reason"]; readonly connect: FailingHandshake["connect"] },
    bound: number,
    check?: (elapsed: number) => void
  ) =>
    contract(points, name, [need], ({ baseline }) =>
      Effect.gen(function* () {
        const before = yield* baseline
        const { reason, connect } = make()
        const started = Date.now()
        const error = yield* Effect.scoped(Effect.flip(connect)).pipe(within(bound, "the handshake did not end"))
        assert.strictEqual(error._tag, "TlsHandshakeError", error.message)
        assert.strictEqual(error._tag === "TlsHandshakeError" && error.reason._tag, reason)
        check?.(Date.now() - started)
        if (options.openResources !== undefined) assert.strictEqual(yield* options.openResources, before)
      })
    )
  failingHandshake(
    [12],
    "handshake timeout against a silent peer",
    [options.makeSilentServerPair !== undefined, "makeSilentServerPair"],
    () => ({
      reason: "Timeout",
      connect: need(
        options.makeSilentServerPair,
        "makeSilentServerPair"
      )({
        client: { handshakeTimeout: Duration.millis(300) }
      })
    }),
    5_000,
    (elapsed) => assert.isAtLeast(elapsed, 250)
  )
  failingHandshake(
    [9],
    "a handshake failure is reported with its reason",
    [options.makeFailingHandshakePair !== undefined, "makeFailingHandshakePair"],
    () => need(options.makeFailingHandshakePair, "makeFailingHandshakePair")(),
    10_000
  )

  // 11 ------------------------------------------------------------------------
  const truncation = (detectable: boolean) => (context: Context) =>
    context.withPair({}, (pair) =>
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
          const error = errorOf(exit)
          assert.isTrue(
            Option.isSome(error) && isTlsError(error.value) && error.value._tag === "TlsTruncationError",
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
          // The end is known, whether close_notify preceded it is not: it must not be claimed.
          assert.isTrue(outcome._tag === "Clean" && outcome.peerEnded, "the peer's end not seen")
          assert.isFalse(outcome._tag === "Clean" && outcome.closeNotifyReceived)
        }
      })
    )
  contract(
    [11],
    "truncation: a transport EOF without close_notify is a TlsTruncationError and Truncated, not a clean end",
    [has("wire"), [options.truncationDetectable, "detectable truncation"]],
    truncation(true)
  )
  contract(
    [11],
    "truncation not detectable: a transport EOF without close_notify is a clean end, the peer ended, closeNotifyReceived false",
    [has("wire"), [!options.truncationDetectable, "undetectable truncation (this is the fallback)"]],
    truncation(false)
  )

  // 10 ------------------------------------------------------------------------
  contract(
    [10],
    "a fatal engine error destroys the transport, fails both halves, and closed is Failed",
    [has("injectFatalError")],
    ({ withPair, baseline }) =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const injectFatalError = need(pair.injectFatalError, "injectFatalError")
          const open = yield* baseline
          const reader = yield* Effect.forkChild(client.reader.read)
          yield* injectFatalError("client")
          const readerExit = yield* Fiber.await(reader).pipe(within(5_000, "the reader was not failed"))
          const readError = errorOf(readerExit)
          assert.isTrue(Option.isSome(readError) && isTlsError(readError.value), describeExit(readerExit))
          const error = Option.getOrThrow(readError)
          assert.isTrue(isFatalTlsError(error), `${String(error)} is not fatal`)
          const writeError = yield* Effect.flip(client.writer.write("after the failure"))
          assert.strictEqual(writeError, error, "the write half failed with another error")
          const outcome = yield* client.closed.pipe(within(5_000, "closed did not resolve"))
          assert.strictEqual(outcome._tag, "Failed")
          assert.strictEqual(outcome._tag === "Failed" && outcome.error, error)
          if (options.openResources !== undefined) {
            assert.isBelow(yield* options.openResources, open, "the failed side's transport was not destroyed")
          }
          // The peer sees the end, never a hang.
          const peer = yield* Effect.exit(readAll(server.reader)).pipe(within(5_000, "the peer's reader hung"))
          assert.isTrue(isTypedEndOrError(peer), describeExit(peer))
        })
      )
  )
}

/** Whether `error` is a typed, fatal TLS error. */
const isFatalTlsError = (error: unknown): boolean => isTlsError(error) && isFatal(error)

/** The first typed error of a failed exit. */
const errorOf = (exit: Exit.Exit<unknown, unknown>): Option.Option<unknown> =>
  Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
