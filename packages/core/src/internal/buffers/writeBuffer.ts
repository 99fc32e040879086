import * as Effect from "effect/Effect"
import { ConnectionClosed, type TlsError, TlsStateError, WriteAfterEnd } from "../../TlsError.ts"
import { COALESCE_BELOW_BYTES } from "../constants.ts"
import { ChunkList } from "./chunkList.ts"
import { Handoff, retry, WAIT } from "./handoff.ts"

/**
 * The outbound buffer between the writers and the IO fiber (consumer).
 *
 * Invariants of the write direction:
 * - A write is accepted whole (all of its chunks), in a commit (see
 *   `Handoff`), while the buffer is below its limit: it holds at most the
 *   limit plus one write. An interrupted write has accepted nothing; a write
 *   that returned has accepted everything it was given, so the peer receives
 *   exactly the writes that completed.
 * - Accepted bytes leave only through `take`, in order, to the IO fiber.
 * - A commit checks the refusal state itself, so after `requestEnd` no write
 *   is accepted, and the IO fiber sends close_notify once the buffer is
 *   empty: every accepted write goes out before it. After `fail` or `close`,
 *   nothing is accepted and waiting writers fail.
 *
 * Shared fields: `chunks` (pushed by writers in commits, taken by the IO
 * fiber), `acceptedBytes` (written by commits, read by `flush`), the refusal
 * state (written by the IO fiber or the close, read by writers and the IO fiber).
 */
export class WriteBuffer extends Handoff {
  private readonly chunks = new ChunkList()
  private failure: TlsError | undefined = undefined
  private closed = false
  private endRequestedFlag = false
  /** Bytes accepted since the connection started. */
  acceptedBytes = 0

  readonly limit: number
  /** Called when bytes were accepted or the end was requested, to wake the IO fiber. */
  private readonly onData: () => void

  constructor(limit: number, onData: () => void) {
    super()
    this.limit = limit
    this.onData = onData
  }

  get bytes(): number {
    return this.chunks.bytes
  }

  get isEmpty(): boolean {
    return this.chunks.isEmpty
  }

  get endRequested(): boolean {
    return this.endRequestedFlag
  }

  /** Whether the connection's scope closed: every write half operation then fails `ConnectionClosed`. */
  get isClosed(): boolean {
    return this.closed
  }

  // --- the IO fiber's side ----------------------------------------------------

  /**
   * IO fiber: the next piece to encrypt. Consecutive writes smaller than
   * `COALESCE_BELOW_BYTES` leave as one piece of at most `max` bytes; with `cut`, a
   * longer chunk leaves in pieces of `max`. Order is kept; acceptance was
   * atomic already.
   */
  take(max: number, cut: boolean): Uint8Array | undefined {
    const piece = this.chunks.shiftCoalesced(COALESCE_BELOW_BYTES, max, cut)
    if (piece !== undefined) this.version++
    return piece
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
    this.version++
    this.waiters.wakeAll()
  }

  requestEnd(): void {
    if (this.endRequestedFlag) return
    this.endRequestedFlag = true
    this.version++
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
    this.version++
    this.waiters.wakeAll()
  }

  // --- the writers' side ------------------------------------------------------

  private refusal(): TlsError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.closed) return new TlsStateError({ reason: new ConnectionClosed({ detail: "the connection was closed" }) })
    if (this.endRequestedFlag) {
      return new TlsStateError({ reason: new WriteAfterEnd({ detail: "the write half was ended" }) })
    }
    return undefined
  }

  /** Accepts `chunks` whole (all of them, or none if it fails or is interrupted), waiting while full. */
  write(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TlsError> {
    return this.accepting(() => {
      for (let i = 0; i < chunks.length; i++) this.accept(chunks[i] as Uint8Array)
    })
  }

  /** `write` of one chunk, without the array (the common case, once per message). */
  writeOne(chunk: Uint8Array): Effect.Effect<void, TlsError> {
    return this.accepting(() => this.accept(chunk))
  }

  private accept(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.acceptedBytes += chunk.length
  }

  /** A write whose commit runs `accept` once there is room and nothing refuses it. */
  private accepting(accept: () => void): Effect.Effect<void, TlsError> {
    const commit = Effect.sync((): void => {
      if (this.chunks.bytes >= this.limit || this.refusal() !== undefined) retry()
      accept()
      this.changed()
      this.onData()
    })
    // Usually there is room: the commit runs first, and the operation (which
    // fails a refused write or waits for room) is built and run only when it retries.
    return this.commitFirst(commit, () =>
      this.operation(() => {
        const refused = this.refusal()
        if (refused !== undefined) return Effect.fail(refused)
        return this.chunks.bytes >= this.limit ? WAIT : commit
      })
    )
  }
}
