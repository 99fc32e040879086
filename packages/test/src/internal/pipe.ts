import type { AsyncWaker } from "./owners.ts"

/**
 * One direction of an in-memory wire: the writer's transport appends, the
 * reader's transport takes.
 *
 * Invariants of a direction:
 * - `bytes` is the sum of the buffered chunks; the writer is told to stop
 *   (`write` returns false, `writable` is false) while it is at or above
 *   `capacity`, and is woken when a read takes it below.
 * - While `paused`, nothing moves: the reader gets no bytes and no EOF, and
 *   buffered bytes stay even if the reader's transport is destroyed.
 * - `fin` is an EOF after the buffered bytes; bytes written after it (or after
 *   the wire was cut) are discarded, as a broken middlebox would.
 */
export class Pipe {
  private chunks: Array<Uint8Array> = []
  private head = 0
  bytes = 0
  carried = 0
  discarded = 0
  paused = false
  chunkSize: number | undefined = undefined
  fin = false
  receiverGone = false
  readonly capacity: number
  /** Wakes the transport that reads this pipe. */
  readonly readerWaker: AsyncWaker
  /** Wakes the transport that writes this pipe. */
  readonly writerWaker: AsyncWaker

  constructor(capacity: number, readerWaker: AsyncWaker, writerWaker: AsyncWaker) {
    this.capacity = capacity
    this.readerWaker = readerWaker
    this.writerWaker = writerWaker
  }

  get full(): boolean {
    return this.bytes >= this.capacity
  }

  push(chunk: Uint8Array): void {
    if (this.fin || (this.receiverGone && !this.paused)) {
      this.discarded += chunk.length
      return
    }
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.bytes += chunk.length
    if (!this.paused) this.readerWaker.schedule()
  }

  /** The next chunk (at most `chunkSize` bytes), or `undefined`. */
  take(): Uint8Array | undefined {
    if (this.paused) return undefined
    const chunk = this.chunks[this.head]
    if (chunk === undefined) return undefined
    const wasFull = this.full
    let out: Uint8Array
    if (this.chunkSize !== undefined && chunk.length > this.chunkSize) {
      out = chunk.subarray(0, this.chunkSize)
      this.chunks[this.head] = chunk.subarray(this.chunkSize)
    } else {
      out = chunk
      this.head++
      if (this.head === this.chunks.length) {
        this.chunks = []
        this.head = 0
      } else if (this.head >= 1024) {
        this.chunks = this.chunks.slice(this.head)
        this.head = 0
      }
    }
    this.bytes -= out.length
    this.carried += out.length
    if (wasFull && !this.full) this.writerWaker.schedule()
    return out
  }

  /** Whether the reader has reached EOF. */
  ended(): boolean {
    return this.fin && this.bytes === 0 && !this.paused
  }

  /** Drops every buffered byte (a reset, or a destroyed reader). */
  drop(): void {
    this.discarded += this.bytes
    this.chunks = []
    this.head = 0
    this.bytes = 0
    this.writerWaker.schedule()
  }

  setPaused(paused: boolean): void {
    this.paused = paused
    if (!paused && this.receiverGone) this.drop()
    this.readerWaker.schedule()
    this.writerWaker.schedule()
  }
}
