import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { ConnectionClosed, EndOfStream, FrameTooLong, type TlsError, TlsStateError } from "../../TlsError.ts"
import * as Arguments from "../arguments.ts"
import { ChunkList } from "./chunkList.ts"
import { Handoff, retry, WAIT } from "./handoff.ts"

/**
 * How the stream ended. `Closed` (the connection's scope closed it) builds its
 * error only if a reader asks: most connections close with nobody reading, and
 * an error's stack trace costs more than the rest of the close.
 */
export type Ending =
  | { readonly _tag: "End" }
  | { readonly _tag: "Fail"; readonly error: TlsError }
  | { readonly _tag: "Closed" }

/** A stream pull: one chunk, or `Done` at the clean end. */
type Pull = Effect.Effect<readonly [Uint8Array], TlsError | Cause.Done>

/**
 * The inbound buffer between the IO fiber (producer) and the readers.
 *
 * Invariants of the read direction:
 * - Only the IO fiber calls `push` (and `finish`, as does the connection's
 *   close); it pushes only while `ioHasSpace()`, so the buffer holds at most
 *   `capacity()` bytes plus one chunk (one TLS record). `capacity()` is the
 *   configured limit, raised while a reader waits for a frame larger than it
 *   (an exact or delimited read), for as long as it waits.
 * - Bytes leave only in a commit (see `Handoff`): a read either returns what
 *   it removed or removed nothing, however it is interrupted, and a read that
 *   fails (`EndOfStream`, `FrameTooLong`) removed nothing.
 * - After `finish`, the buffered bytes are still delivered; the ending is
 *   reported once they are gone. After the connection's scope closed
 *   (`Closed`), every read fails at once: the connection is gone, and a read
 *   then is a use after close.
 *
 * Shared fields: `chunks` (pushed by the IO fiber, taken in readers'
 * commits), `ending` (written by the IO fiber or the close, read by readers),
 * the waiters' demands (registered by readers, read by the IO fiber through
 * `capacity`), `starved` (set by the IO fiber, cleared by readers), the
 * slot (taken by a waiting reader's registration, cleared by the IO fiber's
 * hand-off, by `finish` or by that reader's cancellation).
 */
export class ReadBuffer extends Handoff {
  private readonly chunks = new ChunkList()
  private ending: Ending | undefined = undefined
  /** The IO fiber found the buffer full; readers wake it once they drained it to half. */
  private starved = false
  /** Commits so far: offsets into the buffer stay valid while it is unchanged (the IO fiber only appends). */
  private takes = 0
  /**
   * The IO fiber pushed since it last woke the readers. Only new bytes wake
   * them: a reader waiting for more than is buffered would otherwise be woken
   * by every step, wait again, and keep the IO fiber stepping.
   */
  private pushed = false

  readonly limit: number
  /** Called when a reader freed space or raised the demand, to wake the IO fiber. */
  private readonly onSpace: () => void

  constructor(limit: number, onSpace: () => void) {
    super()
    this.limit = limit
    this.onSpace = onSpace
  }

  /**
   * A reader starts waiting. The IO fiber must run if it stopped because the
   * buffer was full (it is woken only once readers drain the buffer to half,
   * and this reader waits for more than is there, so nobody would), or if the
   * reader needs more than the limit.
   */
  protected override onWait(demand: number): void {
    if (this.starved || demand > this.limit) {
      this.starved = false
      this.onSpace()
    }
  }

  get bytes(): number {
    return this.chunks.bytes
  }

  capacity(): number {
    const demand = this.waitersDemand()
    return Math.max(demand, this.limit)
  }

  // --- the IO fiber's side ----------------------------------------------------

  /**
   * IO fiber: whether it may push. A `false` is remembered, so that readers
   * wake the IO fiber once they have drained the buffer to half its capacity
   * (waking it for every chunk taken would move one chunk per wake-up).
   */
  ioHasSpace(): boolean {
    if (this.chunks.bytes < this.capacity()) return true
    this.starved = true
    return false
  }

  /** IO fiber: adds a chunk. Readers are woken by `wakeReaders`, once per step. */
  push(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.version++
    this.pushed = true
  }

  /** IO fiber, at the end of a step: wakes the readers if there is anything for them. */
  wakeReaders(): void {
    if (!this.pushed) return
    this.pushed = false
    this.handOff()
    if (!this.chunks.isEmpty) this.wakeWaiters()
  }

  /**
   * The stream ended. The first ending stands, except that the scope's close
   * overrides a clean end: after it, reads fail even with bytes buffered.
   */
  finish(ending: Ending): void {
    if (this.ending !== undefined && !(ending._tag === "Closed" && this.ending._tag === "End")) return
    this.ending = ending
    this.version++
    const read = this.slotRead
    const pull = this.slotPull
    this.clearSlot()
    read?.(this.read)
    pull?.(this.pull)
    this.wakeWaiters()
  }

  // --- the readers' side ------------------------------------------------------

  /** The effect that ends a read once the buffer is empty and the stream has ended. */
  private endOrFail<A, E>(onEnd: () => Effect.Effect<A, E>): Effect.Effect<A, E | TlsError> {
    const ending = this.ending as Ending
    switch (ending._tag) {
      case "End":
        return onEnd()
      case "Fail":
        return Effect.fail(ending.error)
      case "Closed":
        return closedError()
    }
  }

  /** In a commit, after taking: waiters look again, and the IO fiber may have room again. */
  private took(): void {
    this.takes++
    this.changed()
    if (this.starved && this.chunks.bytes <= this.capacity() / 2) {
      this.starved = false
      this.onSpace()
    }
  }

  // The commits are made on first use, as the operations are: a connection
  // reads one way or the other, and an idle one not at all.
  private commitChunkOperation: Effect.Effect<Option.Option<Uint8Array>> | undefined = undefined
  private commitPullOperation: Pull | undefined = undefined

  private get commitChunk(): Effect.Effect<Option.Option<Uint8Array>> {
    this.commitChunkOperation ??= Effect.sync((): Option.Option<Uint8Array> => {
      const chunk = this.chunks.shift()
      if (chunk === undefined) return retry()
      this.took()
      return Option.some(chunk)
    })
    return this.commitChunkOperation
  }

  private get commitPull(): Pull {
    this.commitPullOperation ??= Effect.sync((): readonly [Uint8Array] => {
      const chunk = this.chunks.shift()
      if (chunk === undefined) return retry()
      this.took()
      return [chunk]
    })
    return this.commitPullOperation
  }

  private readOperation: Effect.Effect<Option.Option<Uint8Array>, TlsError> | undefined = undefined
  private pullOperation: Pull | undefined = undefined

  // The slot: the one `read` or stream pull waiting on an empty buffer, which
  // the IO fiber resumes with that operation's commit itself (see `handOff`).
  // At most one of `slotRead` and `slotPull` is set, and `slotFiber` with it:
  // set by the waiting operation's registration, cleared together by the IO
  // fiber's hand-off, by `finish`, or by the operation's own cancellation.
  /** How to resume the `read` in the slot. */
  private slotRead: ((effect: Effect.Effect<Option.Option<Uint8Array>, TlsError>) => void) | undefined = undefined
  /** How to resume the stream pull in the slot. */
  private slotPull: ((effect: Pull) => void) | undefined = undefined
  /** The fiber waiting in the slot: its cancellation clears the slot only if the slot is still its own. */
  private slotFiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  // The waits and the cancellation, built on first use (then once per buffer).
  private readWaitOperation: Effect.Effect<Option.Option<Uint8Array>, TlsError> | undefined = undefined
  private pullWaitOperation: Pull | undefined = undefined
  private slotCancelOperation: Effect.Effect<void> | undefined = undefined

  private get slotTaken(): boolean {
    return this.slotRead !== undefined || this.slotPull !== undefined
  }

  /** Whether an operation about to wait in the slot must not: something arrived, the stream ended, or the slot is taken. */
  private slotRefuses(): boolean {
    return !this.chunks.isEmpty || this.ending !== undefined || this.slotTaken
  }

  /**
   * One chunk, or `None` at a clean end. Built on first use: many connections
   * never read this way. A read that finds the buffer empty waits in the slot
   * (if another operation holds it, in the general wait list), and the IO
   * fiber resumes it with the commit that takes the next chunk (see `handOff`).
   */
  get read(): Effect.Effect<Option.Option<Uint8Array>, TlsError> {
    this.readOperation ??= this.operation(() => {
      if (this.ending?._tag === "Closed") return closedError()
      if (!this.chunks.isEmpty) return this.commitChunk
      if (this.ending !== undefined) return this.endOrFail(() => Effect.succeedNone)
      return this.slotTaken ? WAIT : this.readWait
    })
    return this.readOperation
  }

  /**
   * A `read` waiting in the slot; resumed with the commit (a chunk arrived)
   * or with the read again (the stream ended). A read that waits allocates
   * nothing of its own.
   */
  private get readWait(): Effect.Effect<Option.Option<Uint8Array>, TlsError> {
    this.readWaitOperation ??= Effect.callback<Option.Option<Uint8Array>, TlsError>((resume) => {
      // Checked again in the step that registers: nothing may arrive unseen in between.
      if (this.slotRefuses()) {
        resume(this.read)
        return
      }
      this.slotRead = resume
      return this.occupySlot()
    })
    return this.readWaitOperation
  }

  /** `readWait` for a stream pull. */
  private get pullWait(): Pull {
    this.pullWaitOperation ??= Effect.callback<readonly [Uint8Array], TlsError | Cause.Done>((resume) => {
      if (this.slotRefuses()) {
        resume(this.pull)
        return
      }
      this.slotPull = resume
      return this.occupySlot()
    })
    return this.pullWaitOperation
  }

  /** The registration's rest, once `slotRead` or `slotPull` is set: returns the cancellation. */
  private occupySlot(): Effect.Effect<void> {
    this.slotFiber = Fiber.getCurrent()
    this.onWait(0)
    return this.slotCancel
  }

  /**
   * The cancellation of an operation in the slot. It can run after the IO
   * fiber resumed that operation (the resumed fiber yielded before its
   * commit, and was interrupted there), when the slot may already hold the
   * next operation of another fiber: hence the fiber's check. A fiber waits
   * in the slot at most once at a time, and its cancellation runs before it
   * can do anything else.
   */
  private get slotCancel(): Effect.Effect<void> {
    this.slotCancelOperation ??= Effect.sync(() => {
      if (this.slotFiber !== undefined && this.slotFiber === Fiber.getCurrent()) this.clearSlot()
    })
    return this.slotCancelOperation
  }

  private clearSlot(): void {
    this.slotRead = undefined
    this.slotPull = undefined
    this.slotFiber = undefined
  }

  /**
   * IO fiber: resumes the operation in the slot with its commit, which takes
   * the next chunk. Effect runs the resumption inline, so the reader's fiber
   * normally takes the chunk in the first operation it runs, before anything
   * else can; if it cannot run now (interrupted in the same moment, or its
   * budget made it yield first), the chunk stays in the buffer for whichever
   * read commits first, and a commit that then finds nothing reads again.
   */
  private handOff(): void {
    if (this.chunks.isEmpty) return
    const read = this.slotRead
    const pull = this.slotPull
    if (read === undefined && pull === undefined) return
    this.clearSlot()
    if (read !== undefined) read(this.commitChunk)
    else if (pull !== undefined) pull(this.commitPull)
  }

  /**
   * A `Stream` pull: one chunk per pull, so that a consumer that stops
   * (`Stream.take`) or is interrupted between chunks leaves the rest here.
   * It waits in the slot as `read` does.
   */
  get pull(): Pull {
    this.pullOperation ??= this.operation(() => {
      if (this.ending?._tag === "Closed") return closedError()
      if (!this.chunks.isEmpty) return this.commitPull
      if (this.ending === undefined) return this.slotTaken ? WAIT : this.pullWait
      return this.endOrFail(() => Cause.done())
    })
    return this.pullOperation
  }

  /** Exactly `n` bytes; fails with `EndOfStream` (consuming nothing) if the stream ends first. */
  readExactly(n: number): Effect.Effect<Uint8Array, TlsError> {
    const refused = Arguments.readExactly(n)
    if (refused !== undefined) return Effect.fail(refused)
    if (n === 0) return Effect.succeed(new Uint8Array(0))
    const commit = Effect.sync(() => {
      if (this.chunks.bytes < n) return retry()
      const bytes = this.chunks.take(n)
      this.took()
      return bytes
    })
    return this.operation(
      () => {
        if (this.ending?._tag === "Closed") return closedError()
        if (this.chunks.bytes >= n) return commit
        if (this.ending === undefined) return WAIT
        return this.endOrFail(() =>
          Effect.fail(
            new TlsStateError({
              reason: new EndOfStream({ detail: `wanted ${n} bytes, ${this.chunks.bytes} arrived before the end` })
            })
          )
        )
      },
      () => n
    )
  }

  /**
   * The bytes before the next `delimiter`, which is consumed too. Fails with
   * `FrameTooLong` if `maxBytes` arrive without it and with `EndOfStream` if the
   * stream ends first; both consume nothing.
   */
  readUntil(delimiter: Uint8Array, maxBytes: number): Effect.Effect<Uint8Array, TlsError> {
    const refused = Arguments.readUntil(delimiter, maxBytes)
    if (refused !== undefined) return Effect.fail(refused)
    const bound = maxBytes + delimiter.length
    // Suspended so that the search state is per run: the returned effect can be
    // run again (after an interruption, or repeated) without skipping bytes.
    return Effect.suspend(() => {
      /** Bytes before this offset hold no delimiter, as long as `takes` is `takesSeen`. */
      let searched = 0
      let found = -1
      let takesSeen = this.takes
      const commit = Effect.sync(() => {
        // `found` holds only if no reader took bytes since the step found it.
        if (this.takes !== takesSeen) return retry()
        const frame = this.chunks.take(found)
        this.chunks.take(delimiter.length)
        this.took()
        return frame
      })
      return this.operation(
        () => {
          if (this.ending?._tag === "Closed") return closedError()
          if (this.takes !== takesSeen) {
            takesSeen = this.takes
            searched = 0
          }
          const at = this.chunks.indexOf(delimiter, searched)
          if (at >= 0 && at <= maxBytes) {
            found = at
            return commit
          }
          if (at > maxBytes || this.chunks.bytes >= bound) {
            return Effect.fail(
              new TlsStateError({ reason: new FrameTooLong({ detail: `no delimiter within ${maxBytes} bytes` }) })
            )
          }
          if (this.ending !== undefined) {
            return this.endOrFail(() =>
              Effect.fail(
                new TlsStateError({ reason: new EndOfStream({ detail: "the stream ended before the delimiter" }) })
              )
            )
          }
          searched = Math.max(0, this.chunks.bytes - delimiter.length + 1)
          return WAIT
        },
        () => bound
      )
    })
  }
}

const closedError = (): Effect.Effect<never, TlsError> =>
  Effect.fail(new TlsStateError({ reason: new ConnectionClosed({ detail: "the connection was closed" }) }))
