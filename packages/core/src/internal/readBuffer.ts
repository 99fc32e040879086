import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type TlsError, TlsStateError } from "../TlsError.ts"
import { ChunkList } from "./chunks.ts"
import { Waiters } from "./signal.ts"

/**
 * How the stream ended. `Closed` (the connection's scope closed it) builds its
 * error only if a reader asks: most connections close with nobody reading, and
 * an error's stack trace costs more than the rest of the close.
 */
type Ending =
  | { readonly _tag: "End" }
  | { readonly _tag: "Fail"; readonly error: TlsError }
  | { readonly _tag: "Closed" }

const WAIT: unique symbol = Symbol("WAIT")
type Wait = typeof WAIT

/**
 * The inbound buffer between the IO fiber (producer) and the readers.
 *
 * Invariants of the read direction:
 * - Only the IO fiber calls `push` and `finish`; it pushes only while
 *   `ioHasSpace()`, so the buffer holds at most `capacity()` bytes plus one chunk
 *   (one TLS record). `capacity()` is the configured limit, raised while a
 *   reader waits for a frame larger than it (an exact or delimited read).
 * - A reader removes bytes in one synchronous step inside an uninterruptible
 *   region, and waits only while holding nothing: an interrupted read leaves
 *   every byte in the buffer, a completed read returns what it removed.
 * - After `finish`, the buffered bytes are still delivered; the ending is
 *   reported once they are gone.
 */
export class ReadBuffer {
  private readonly chunks = new ChunkList()
  private readonly waiters = new Waiters()
  private ending: Ending | undefined = undefined
  private demand = 0
  private starved = false

  readonly limit: number
  /** Called when a reader freed space or raised the demand, to wake the IO fiber. */
  private readonly onSpace: () => void

  constructor(limit: number, onSpace: () => void) {
    this.limit = limit
    this.onSpace = onSpace
  }

  get bytes(): number {
    return this.chunks.bytes
  }

  capacity(): number {
    return Math.max(this.demand, this.limit)
  }

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
  }

  /** IO fiber, at the end of a step: wakes the readers if there is anything for them. */
  wakeReaders(): void {
    if (!this.chunks.isEmpty) this.waiters.wakeAll()
  }

  finish(ending: Ending): void {
    if (this.ending !== undefined) return
    this.ending = ending
    this.waiters.wakeAll()
  }

  private freed(): void {
    if (this.starved && this.chunks.bytes <= this.capacity() / 2) {
      this.starved = false
      this.onSpace()
    }
  }

  private endOrFail<A>(onEnd: () => Effect.Effect<A, TlsError>): Effect.Effect<A, TlsError> | Wait {
    const ending = this.ending
    if (ending === undefined) return WAIT
    switch (ending._tag) {
      case "End":
        return onEnd()
      case "Fail":
        return Effect.fail(ending.error)
      case "Closed":
        return Effect.fail(new TlsStateError({ reason: "ConnectionClosed", detail: "the connection was closed" }))
    }
  }

  /** Retries `attempt` until it returns an effect, waiting interruptibly in between. */
  private loop<A>(attempt: () => Effect.Effect<A, TlsError> | Wait): Effect.Effect<A, TlsError> {
    return Effect.uninterruptibleMask((restore) => {
      const go: Effect.Effect<A, TlsError> = Effect.suspend(() => {
        const result = attempt()
        return result === WAIT ? Effect.flatMap(restore(this.waiters.await), () => go) : result
      })
      return go
    })
  }

  private waitingRead: Effect.Effect<Option.Option<Uint8Array>, TlsError> | undefined = undefined

  /** `read` when the buffer is empty: built on the first wait, since many connections never wait. */
  private get readSlow(): Effect.Effect<Option.Option<Uint8Array>, TlsError> {
    this.waitingRead ??= this.loop(() => {
      const chunk = this.chunks.shift()
      if (chunk !== undefined) {
        this.freed()
        return Effect.succeed(Option.some(chunk))
      }
      return this.endOrFail(() => Effect.succeedNone)
    })
    return this.waitingRead
  }

  /**
   * One chunk, or `None` at a clean end. A buffered chunk is taken in one
   * synchronous step that runs no other fiber (waking the IO fiber is
   * deferred to a microtask), so it is as atomic as the waiting path without
   * its uninterruptible region.
   */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, TlsError> = Effect.suspend(() => {
    const chunk = this.chunks.shift()
    if (chunk === undefined) return this.readSlow
    this.freed()
    return Effect.succeed(Option.some(chunk))
  })

  /** Every buffered chunk at once (at least one), or a `Done` at a clean end: a `Stream` pull. Built on use. */
  get pull(): Effect.Effect<readonly [Uint8Array, ...Array<Uint8Array>], TlsError | Cause.Done> {
    return this.loop<readonly [Uint8Array, ...Array<Uint8Array>]>(() => {
      if (!this.chunks.isEmpty) {
        const all = this.chunks.shiftAll() as unknown as readonly [Uint8Array, ...Array<Uint8Array>]
        this.freed()
        return Effect.succeed(all)
      }
      return this.endOrFail(() => Cause.done() as unknown as Effect.Effect<never, TlsError>)
    }) as Effect.Effect<readonly [Uint8Array, ...Array<Uint8Array>], TlsError | Cause.Done>
  }

  /** Exactly `n` bytes; fails with `EndOfStream` (consuming nothing) if the stream ends first. */
  readExactly(n: number): Effect.Effect<Uint8Array, TlsError> {
    if (n <= 0) return Effect.succeed(new Uint8Array(0))
    return this.withDemand(
      n,
      this.loop(() => {
        if (this.chunks.bytes >= n) {
          const bytes = this.chunks.take(n)
          this.freed()
          return Effect.succeed(bytes)
        }
        return this.endOrFail(() =>
          Effect.fail(
            new TlsStateError({
              reason: "EndOfStream",
              detail: `wanted ${n} bytes, ${this.chunks.bytes} arrived before the end`
            })
          )
        )
      })
    )
  }

  /**
   * The bytes before the next `delimiter`, which is consumed too. Fails with
   * `FrameTooLong` if `maxBytes` arrive without it and with `EndOfStream` if the
   * stream ends first; both consume nothing.
   */
  readUntil(delimiter: Uint8Array, maxBytes: number): Effect.Effect<Uint8Array, TlsError> {
    const bound = maxBytes + delimiter.length
    // Suspended so that `searched` is per run: the returned effect can be run
    // again (after an interruption, or repeated) without skipping unseen bytes.
    return Effect.suspend(() => {
      let searched = 0
      return this.withDemand(
        bound,
        this.loop(() => {
          const at = this.chunks.indexOf(delimiter, searched)
          if (at >= 0 && at <= maxBytes) {
            const frame = this.chunks.take(at)
            this.chunks.take(delimiter.length)
            this.freed()
            return Effect.succeed(frame)
          }
          if (at > maxBytes || this.chunks.bytes >= bound) {
            return Effect.fail(
              new TlsStateError({ reason: "FrameTooLong", detail: `no delimiter within ${maxBytes} bytes` })
            )
          }
          searched = Math.max(0, this.chunks.bytes - delimiter.length + 1)
          return this.endOrFail(() =>
            Effect.fail(new TlsStateError({ reason: "EndOfStream", detail: "the stream ended before the delimiter" }))
          )
        })
      )
    })
  }

  private withDemand<A>(bytes: number, effect: Effect.Effect<A, TlsError>): Effect.Effect<A, TlsError> {
    if (bytes <= this.limit) return effect
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        const previous = this.demand
        this.demand = Math.max(previous, bytes)
        this.onSpace()
        return previous
      }),
      () => effect,
      (previous) =>
        Effect.sync(() => {
          this.demand = previous
        })
    )
  }
}
