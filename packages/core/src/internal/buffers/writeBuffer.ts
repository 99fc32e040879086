import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { ConnectionClosed, type TlsError, TlsStateError, WriteAfterEnd } from "../../TlsError.ts"
import { COALESCE_BELOW_BYTES } from "../constants.ts"
import { ChunkList } from "./chunkList.ts"
import { Handoff, retry, thrownByCommit, WAIT } from "./handoff.ts"

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
 * - Only the commit that makes the buffer non-empty wakes the IO fiber: the
 *   IO fiber leaves bytes here only while the engine takes no more, and the
 *   engine wakes it when it does. A commit wakes no writer either: accepting
 *   only takes room, and room comes from `take`, after which the IO fiber
 *   wakes the writers (`wakeWriters`).
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
  /** Memory for a piece of joined small writes (see `Engine.allocatePlaintext`). */
  private readonly allocate: (bytes: number) => Uint8Array

  constructor(limit: number, onData: () => void, allocate: (bytes: number) => Uint8Array = zeroed) {
    super()
    this.limit = limit
    this.onData = onData
    this.allocate = allocate
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
   * `COALESCE_BELOW_BYTES` leave as one piece of at most `joinMax` bytes (in
   * memory from `allocate`); with a `cutAt`, a longer chunk leaves in pieces
   * of that size. Order is kept; acceptance was atomic already.
   */
  take(joinMax: number, cutAt: number | undefined): Uint8Array | undefined {
    const piece = this.chunks.shiftCoalesced(COALESCE_BELOW_BYTES, joinMax, cutAt, this.allocate)
    if (piece !== undefined) this.version++
    return piece
  }

  /**
   * IO fiber, at the end of a step: wakes the writers if there is room. Not
   * done in `take`, which would resume a writer (synchronously) for every
   * chunk taken and move one chunk per wake-up.
   */
  wakeWriters(): void {
    if (this.chunks.bytes < this.limit) this.wakeWaiters()
  }

  fail(error: TlsError): void {
    if (this.failure !== undefined) return
    this.failure = error
    this.version++
    this.wakeWaiters()
  }

  requestEnd(): void {
    if (this.endRequestedFlag) return
    this.endRequestedFlag = true
    this.version++
    this.wakeWaiters()
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
    this.wakeWaiters()
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

  /**
   * Accepts `chunks` whole (all of them, or none if it fails or is
   * interrupted), waiting while full. One chunk is passed as itself, without
   * an array: the common case, once per message.
   */
  write(chunks: Uint8Array | ReadonlyArray<Uint8Array>): Effect.Effect<void, TlsError> {
    return Effect.catchCause(
      Effect.sync(() => this.commit(chunks)),
      this.notAcceptedHandler()
    )
  }

  /**
   * A write's commit, its only operation when there is room: accepts every
   * chunk, or throws them back to the write's catch frame (`retryWrite`).
   * Only the write that makes the buffer non-empty wakes the IO fiber: while
   * it holds bytes, the IO fiber either has a step to come or waits for the
   * engine to take more, and the engine wakes it then.
   */
  private commit(chunks: Uint8Array | ReadonlyArray<Uint8Array>): void {
    if (this.chunks.bytes >= this.limit || this.refused) throw new NotAccepted(chunks)
    this.acceptAll(chunks)
  }

  private acceptAll(chunks: Uint8Array | ReadonlyArray<Uint8Array>): void {
    const wasEmpty = this.chunks.isEmpty
    if (chunks instanceof Uint8Array) {
      this.accept(chunks)
    } else {
      for (let i = 0; i < chunks.length; i++) this.accept(chunks[i] as Uint8Array)
    }
    if (wasEmpty && !this.chunks.isEmpty) this.onData()
  }

  private accept(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.acceptedBytes += chunk.length
  }

  /** Whether `refusal()` would refuse, without building its error (the commit's test, once per write). */
  private get refused(): boolean {
    return this.failure !== undefined || this.closed || this.endRequestedFlag
  }

  /** The handler of every write's catch frame: one per buffer, made by the first write. */
  private notAccepted: ((cause: Cause.Cause<TlsError>) => Effect.Effect<void, TlsError>) | undefined = undefined

  private notAcceptedHandler(): (cause: Cause.Cause<TlsError>) => Effect.Effect<void, TlsError> {
    this.notAccepted ??= (cause) => this.retryWrite(cause)
    return this.notAccepted
  }

  /**
   * A commit threw its chunks back: the write fails if the buffer refuses
   * writes, or waits for a change (the IO fiber took bytes, or the buffer
   * came to refuse writes) and commits again. Anything else thrown is not ours.
   */
  private retryWrite(cause: Cause.Cause<TlsError>): Effect.Effect<void, TlsError> {
    const thrown = thrownByCommit(cause)
    if (!(thrown instanceof NotAccepted)) return Effect.failCause(cause)
    return this.operation(() => {
      const refused = this.refusal()
      if (refused !== undefined) return Effect.fail(refused)
      if (this.chunks.bytes >= this.limit) return WAIT
      return Effect.sync(() => {
        // Another writer may have filled the room since the step looked, or the buffer came to refuse writes.
        if (this.chunks.bytes >= this.limit || this.refused) retry()
        this.acceptAll(thrown.chunks)
      })
    })
  }
}

const zeroed = (bytes: number): Uint8Array => new Uint8Array(bytes)

/** Thrown by a commit that cannot accept its chunks now, to the write's catch frame. */
class NotAccepted {
  readonly chunks: Uint8Array | ReadonlyArray<Uint8Array>
  constructor(chunks: Uint8Array | ReadonlyArray<Uint8Array>) {
    this.chunks = chunks
  }
}
