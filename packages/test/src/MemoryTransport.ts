/**
 * An in-memory pair of connected transports (`Transport`) for tests: two one-way
 * pipes, each bounded in bytes, so that a writer that outruns its reader is
 * told to wait and woken when space frees, exactly like a socket. A control
 * handle pauses, slices, ends or resets each direction and counts what moved.
 *
 * Wakers are always called asynchronously (in a microtask, coalesced), never
 * from inside the method that caused the change.
 *
 * @since 0.1.0
 */
import { ConnectionReset, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import { AsyncWaker, CallerLog } from "./internal/owners.ts"
import { Pipe } from "./internal/pipe.ts"

/**
 * A direction of the pair: `aToB` carries what `a` writes to `b`.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "aToB" | "bToA"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Bytes buffered per direction before the writer is told to wait. Default
   * 1 MiB, the order of what a loopback TCP connection buffers, so that a
   * protocol that works over loopback does not deadlock here for want of
   * buffer (a side that writes a large response before reading).
   */
  readonly capacity?: number | undefined
  /** Deliver at most this many bytes per `read` (both directions). Default: chunks as written. */
  readonly chunkSize?: number | undefined
  /** Record which fiber calls each method, for {@link Control.callers}. Default false (it costs time). */
  readonly recordCallers?: boolean | undefined
}

/**
 * Manual control of the wire, for tests. Every method takes effect at once and
 * wakes the affected transports asynchronously.
 *
 * @since 0.1.0
 * @category models
 */
export interface Control {
  /** The receiver stops getting bytes (and EOF); the sender's pipe fills and its writes block. */
  readonly pause: (direction: Direction) => void
  readonly resume: (direction: Direction) => void
  /** Delivers at most `bytes` per read in that direction (`undefined`: chunks as written). */
  readonly setChunkSize: (direction: Direction, bytes: number | undefined) => void
  /** Ends the direction (FIN after what is buffered) as if the sender had; later writes are discarded. */
  readonly end: (direction: Direction) => void
  /** Resets the connection: both sides' `failure()` becomes `ConnectionReset` and buffers are dropped. */
  readonly reset: () => void
  /** Bytes the receiver has read in that direction. */
  readonly bytesCarried: (direction: Direction) => number
  /** Bytes buffered in that direction now. */
  readonly buffered: (direction: Direction) => number
  /** How many of the two transports are not destroyed yet. */
  readonly open: () => number
  /**
   * The fibers (by id, `"none"` outside any fiber) that called each side's
   * transport methods other than `setWaker` and `destroy`; empty unless the
   * pair was made with `recordCallers`.
   */
  readonly callers: (side: "a" | "b") => ReadonlyArray<number | "none">
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Pair {
  readonly a: Transport
  readonly b: Transport
  readonly control: Control
}

/**
 * The default `capacity`: 1 MiB per direction.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCapacity: number = 1024 * 1024

/**
 * Makes a connected pair.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePair = (options?: Options): Pair => {
  const capacity = options?.capacity ?? defaultCapacity
  if (!Number.isSafeInteger(capacity) || capacity <= 0) {
    throw new RangeError(`MemoryTransport capacity must be a positive integer, got ${capacity}`)
  }
  const wakerA = new AsyncWaker()
  const wakerB = new AsyncWaker()
  const aToB = new Pipe(capacity, wakerB, wakerA)
  const bToA = new Pipe(capacity, wakerA, wakerB)
  aToB.chunkSize = options?.chunkSize
  bToA.chunkSize = options?.chunkSize
  const state: Shared = { reset: undefined, open: 2 }
  const recordCallers = options?.recordCallers ?? false
  const a = new Endpoint(wakerA, aToB, bToA, state, recordCallers)
  const b = new Endpoint(wakerB, bToA, aToB, state, recordCallers)
  const pipe = (direction: Direction): Pipe => (direction === "aToB" ? aToB : bToA)
  const control: Control = {
    pause: (direction) => pipe(direction).setPaused(true),
    resume: (direction) => pipe(direction).setPaused(false),
    setChunkSize: (direction, bytes) => {
      pipe(direction).chunkSize = bytes
    },
    end: (direction) => {
      const p = pipe(direction)
      p.fin = true
      p.readerWaker.schedule()
      p.writerWaker.schedule()
    },
    reset: () => {
      if (state.reset !== undefined) return
      state.reset = new TlsTransportError({ reason: new ConnectionReset({ detail: "the memory transport was reset" }) })
      aToB.drop()
      bToA.drop()
      wakerA.schedule()
      wakerB.schedule()
    },
    bytesCarried: (direction) => pipe(direction).carried,
    buffered: (direction) => pipe(direction).bytes,
    open: () => state.open,
    callers: (side) => (side === "a" ? a : b).log.callers(["setWaker", "destroy"])
  }
  return { a, b, control }
}

interface Shared {
  reset: TlsTransportError | undefined
  open: number
}

class Endpoint implements Transport {
  readonly log = new CallerLog()
  private readonly recordCallers: boolean
  private destroyed = false
  private ended = false
  private readonly waker: AsyncWaker
  private readonly out: Pipe
  private readonly in: Pipe
  private readonly shared: Shared

  constructor(waker: AsyncWaker, out: Pipe, input: Pipe, shared: Shared, recordCallers: boolean) {
    this.recordCallers = recordCallers
    this.waker = waker
    this.out = out
    this.in = input
    this.shared = shared
  }

  readonly setWaker = (wake: () => void): void => {
    if (this.recordCallers) this.log.record("setWaker")
    this.waker.set(wake)
  }

  readonly read = (): Uint8Array | undefined => {
    if (this.recordCallers) this.log.record("read")
    if (this.destroyed || this.shared.reset !== undefined) return undefined
    return this.in.take()
  }

  readonly readEnded = (): boolean => {
    if (this.recordCallers) this.log.record("readEnded")
    return this.destroyed || this.in.ended()
  }

  readonly write = (chunk: Uint8Array): boolean => {
    if (this.recordCallers) this.log.record("write")
    if (this.destroyed || this.shared.reset !== undefined || this.ended) return true
    this.out.push(chunk)
    return !this.out.full
  }

  readonly writable = (): boolean => {
    if (this.recordCallers) this.log.record("writable")
    if (this.destroyed || this.shared.reset !== undefined || this.out.fin) return true
    return !this.out.full
  }

  readonly end = (): void => {
    if (this.recordCallers) this.log.record("end")
    if (this.ended || this.destroyed) return
    this.ended = true
    this.out.fin = true
    this.out.readerWaker.schedule()
  }

  readonly endFinished = (): boolean => {
    if (this.recordCallers) this.log.record("endFinished")
    // Bytes below the capacity are "in the kernel": handed on, like a socket's 'finish'.
    return this.ended && (!this.out.full || this.out.receiverGone || this.shared.reset !== undefined)
  }

  readonly destroy = (): void => {
    if (this.recordCallers) this.log.record("destroy")
    if (this.destroyed) return
    this.destroyed = true
    this.shared.open--
    // What this side wrote stays deliverable, followed by EOF; what it had not
    // read is dropped (unless the wire is paused), and later writes to it vanish.
    this.out.fin = true
    this.out.readerWaker.schedule()
    this.in.receiverGone = true
    if (!this.in.paused) this.in.drop()
  }

  readonly failure = (): TlsTransportError | undefined => {
    if (this.recordCallers) this.log.record("failure")
    return this.shared.reset
  }
}
