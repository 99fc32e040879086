import * as Effect from "effect/Effect"
import { type TlsError, TlsStateError } from "../TlsError.ts"
import { ChunkList } from "./chunks.ts"
import { Waiters } from "./signal.ts"

/** Writes shorter than this are joined with their neighbours before they reach the engine. */
const COALESCE_BELOW = 4 * 1024
/** The most plaintext a TLS record holds. */
const RECORD_BYTES = 16 * 1024

/**
 * The outbound buffer between the writers and the IO fiber (consumer).
 *
 * Invariants of the write direction:
 * - A chunk is accepted whole, in one synchronous step, while the buffer is
 *   below its limit (so it holds at most the limit plus one chunk); a writer
 *   waits only while it has accepted nothing, so an interrupted write has
 *   written nothing and a completed write is queued whole.
 * - Accepted chunks leave only through `take`, in order, to the IO fiber.
 * - After `requestEnd`, no write is accepted; the IO fiber sends close_notify
 *   once the buffer is empty. After `fail`, nothing is accepted and waiting
 *   writers fail.
 */
export class WriteBuffer {
  private readonly chunks = new ChunkList()
  private readonly waiters = new Waiters()
  private failure: TlsError | undefined = undefined
  private closed = false
  endRequested = false

  readonly limit: number
  /** Called when bytes were accepted or the end was requested, to wake the IO fiber. */
  private readonly onData: () => void

  constructor(limit: number, onData: () => void) {
    this.limit = limit
    this.onData = onData
  }

  get bytes(): number {
    return this.chunks.bytes
  }

  get isEmpty(): boolean {
    return this.chunks.isEmpty
  }

  /**
   * IO fiber: the next chunk to encrypt. Consecutive writes smaller than
   * `COALESCE_BELOW` leave as one chunk of at most a record's worth; whole
   * writes only, in order, so atomicity and ordering are unchanged.
   */
  take(): Uint8Array | undefined {
    return this.chunks.shiftCoalesced(COALESCE_BELOW, RECORD_BYTES)
  }

  /**
   * IO fiber, at the end of a step: wakes the writers if there is room. Not
   * done in `take`, which would resume a writer (synchronously) for every
   * chunk taken and move one chunk per wake-up.
   */
  wakeWriters(): void {
    if (this.chunks.bytes < this.limit) this.waiters.wakeAll()
  }

  fail(error: TlsError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.waiters.wakeAll()
  }

  requestEnd(): void {
    if (this.endRequested) return
    this.endRequested = true
    this.waiters.wakeAll()
    this.onData()
  }

  /**
   * The connection's scope closed: writes are refused with `ConnectionClosed`,
   * built only when a writer asks (see `ReadBuffer`'s `Closed` ending).
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.waiters.wakeAll()
  }

  private refusal(): TlsError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.closed) return new TlsStateError({ reason: "ConnectionClosed", detail: "the connection was closed" })
    if (this.endRequested) {
      return new TlsStateError({ reason: "WriteAfterEnd", detail: "the write half was ended" })
    }
    return undefined
  }

  /**
   * One chunk. The common case (room in the buffer) is accepted in one
   * synchronous step that runs no other fiber, so it is as atomic as the
   * general path without its uninterruptible region.
   */
  writeOne(chunk: Uint8Array): Effect.Effect<void, TlsError> {
    return Effect.suspend(() => {
      if (this.chunks.bytes >= this.limit || this.refusal() !== undefined) return this.write([chunk])
      this.chunks.push(chunk)
      this.onData()
      return Effect.void
    })
  }

  /** Accepts `chunks[from..]` one whole chunk at a time, waiting while full. */
  write(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TlsError> {
    // `next` is per run, so the returned effect can be run again (repeated, retried)
    // and writes its chunks again each time.
    return Effect.uninterruptibleMask((restore) => {
      let next = 0
      const go: Effect.Effect<void, TlsError> = Effect.suspend(() => {
        const refused = this.refusal()
        if (refused !== undefined) return Effect.fail(refused)
        let accepted = false
        while (next < chunks.length && this.chunks.bytes < this.limit) {
          this.chunks.push(chunks[next] as Uint8Array)
          next++
          accepted = true
        }
        if (accepted) this.onData()
        if (next >= chunks.length) return Effect.void
        // `onData()` can run the IO fiber synchronously, which may drain the
        // buffer before this writer waits; its wake-up then found no waiter
        // and would be lost (a multi-chunk write hung at one buffer's worth).
        if (this.chunks.bytes < this.limit) return go
        return Effect.flatMap(restore(this.waiters.await), () => go)
      })
      return go
    })
  }
}
