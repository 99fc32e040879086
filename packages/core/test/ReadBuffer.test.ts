/**
 * The read buffer's slot, in the one order of events that random schedules
 * reach rarely: the IO fiber resumes the reader waiting in the slot, that
 * reader's fiber yields before its commit (its scheduler says so), another
 * fiber reads the chunk and then waits in the slot itself, and only then is
 * the first reader interrupted. Its cancellation must leave the second
 * reader's slot alone, or the second reader is never handed the next chunk.
 * Readers are `read`s and stream pulls, which share the slot. And a reader
 * waiting in the slot keeps it against a later reader, which waits in the
 * general wait list instead.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scheduler from "effect/Scheduler"
import { ReadBuffer } from "../src/internal/buffers/readBuffer.ts"

/**
 * A scheduler that makes its fiber yield once when asked to, and holds the
 * tasks it is given until `release`: a fiber that yielded stays suspended,
 * in the state its yield left it in, for as long as the test wants.
 */
class HoldingScheduler implements Scheduler.Scheduler {
  readonly executionMode = "async"
  yieldNext = false
  private readonly held: Array<() => void> = []

  shouldYield(): boolean {
    if (!this.yieldNext) return false
    this.yieldNext = false
    return true
  }

  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return { scheduleTask: (task) => this.held.push(task), flush: () => {} }
  }

  get heldTasks(): number {
    return this.held.length
  }

  release(): void {
    for (const task of this.held.splice(0)) task()
  }
}

const chunk = (byte: number): Uint8Array => new Uint8Array([byte])

interface Way {
  readonly name: string
  readonly run: (buffer: ReadBuffer) => Effect.Effect<unknown, unknown>
  /** What the operation returns for one chunk. */
  readonly result: (chunk: Uint8Array) => unknown
}

const ways: ReadonlyArray<Way> = [
  { name: "read", run: (buffer) => buffer.read, result: (bytes) => Option.some(bytes) },
  { name: "stream pull", run: (buffer) => buffer.pull, result: (bytes) => [bytes] }
]

describe("ReadBuffer", () => {
  for (const firstWay of ways) {
    for (const secondWay of ways) {
      it.live(
        `a ${firstWay.name} interrupted after its hand-off, before its commit, leaves a ${secondWay.name} in the slot`,
        () =>
          Effect.gen(function* () {
            const buffer = new ReadBuffer(1024, () => {})
            const scheduler = new HoldingScheduler()
            const first = yield* Effect.forkChild(
              Effect.provideService(firstWay.run(buffer), Scheduler.Scheduler, scheduler),
              { startImmediately: true }
            )
            // `first` waits in the slot. The hand-off resumes it, and it yields before its commit.
            scheduler.yieldNext = true
            buffer.push(chunk(1))
            buffer.wakeReaders()
            assert.strictEqual(scheduler.heldTasks, 1, "the first reader yielded instead of committing")
            assert.isUndefined(first.pollUnsafe())
            assert.strictEqual(buffer.bytes, 1, "the chunk stayed in the buffer")

            // Another fiber takes that chunk, then waits in the slot for the next one.
            assert.deepStrictEqual(yield* buffer.read, Option.some(chunk(1)))
            const second = yield* Effect.forkChild(secondWay.run(buffer), { startImmediately: true })
            assert.isUndefined(second.pollUnsafe())

            yield* Fiber.interrupt(first)
            assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(first)))

            buffer.push(chunk(2))
            buffer.wakeReaders()
            const secondExit = second.pollUnsafe()
            assert.isDefined(secondExit, "the second reader was handed the next chunk at once")
            assert.deepStrictEqual(secondExit, Exit.succeed(secondWay.result(chunk(2))))
            assert.strictEqual(buffer.bytes, 0)
            // The first reader's yield, run now, finds its fiber over and changes nothing.
            scheduler.release()
            assert.strictEqual(buffer.bytes, 0)
          })
      )
    }
  }

  it.live("a read interrupted in the slot frees it, and a reader waiting there keeps it", () =>
    Effect.gen(function* () {
      const buffer = new ReadBuffer(1024, () => {})
      const interrupted = yield* Effect.forkChild(buffer.read, { startImmediately: true })
      yield* Fiber.interrupt(interrupted)
      // `second` waits in the slot the interrupted read left; `third` must not take it from `second`.
      const second = yield* Effect.forkChild(buffer.read, { startImmediately: true })
      const third = yield* Effect.forkChild(buffer.pull, { startImmediately: true })
      buffer.push(chunk(1))
      buffer.wakeReaders()
      assert.deepStrictEqual(
        second.pollUnsafe(),
        Exit.succeed(Option.some(chunk(1))),
        "the slot's reader got the chunk"
      )
      assert.isUndefined(third.pollUnsafe(), "the other reader still waits: there was one chunk")
      buffer.push(chunk(2))
      buffer.wakeReaders()
      assert.deepStrictEqual(third.pollUnsafe(), Exit.succeed([chunk(2)]))
      assert.strictEqual(buffer.bytes, 0)
    })
  )
})
