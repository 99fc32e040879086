/**
 * One direction of a fault-injecting transport: turns the original byte
 * stream into the faulty one.
 *
 * Offsets are positions in the original stream of this direction. Invariant:
 * `consumed` original bytes have entered the pipe; every one of them left it
 * (possibly flipped, possibly preceded by injected bytes) or is in `queue`, in
 * order, never twice; bytes past the cut point never enter it.
 */
export interface PipeSpec {
  readonly chunkSize: number
  readonly delayMillis: number
  /** The first cut fault by offset: after `at` bytes, the stream stalls, resets or ends. */
  readonly cut: { readonly kind: "stall" | "reset" | "end"; readonly at: number } | undefined
  readonly flips: ReadonlyArray<{ readonly offset: number; readonly mask: number }>
  readonly injections: ReadonlyArray<{ readonly offset: number; readonly bytes: Uint8Array }>
}

interface Pending {
  readonly bytes: Uint8Array
  readonly readyAt: number
}

export class FaultPipe {
  private readonly spec: PipeSpec
  private queue: Array<Pending> = []
  private queuedBytes = 0
  private nextInjection = 0
  consumed = 0
  /** Original bytes that arrived past the cut point (never delivered). */
  withheld = 0

  constructor(spec: PipeSpec) {
    this.spec = spec
    this.injectDue(Date.now())
  }

  /** Whether the cut point was reached: nothing more enters the pipe. */
  get cutReached(): boolean {
    return this.spec.cut !== undefined && this.consumed >= this.spec.cut.at
  }

  get cutKind(): "stall" | "reset" | "end" | undefined {
    return this.cutReached ? this.spec.cut?.kind : undefined
  }

  get isEmpty(): boolean {
    return this.queue.length === 0
  }

  get bytes(): number {
    return this.queuedBytes
  }

  /** Takes `chunk` of the original stream (the part past the cut point is withheld). */
  push(chunk: Uint8Array, now: number): void {
    const room = this.spec.cut === undefined ? chunk.length : Math.max(0, this.spec.cut.at - this.consumed)
    const taken = chunk.length > room ? chunk.subarray(0, room) : chunk
    this.withheld += chunk.length - taken.length
    if (taken.length === 0) return
    const start = this.consumed
    const end = start + taken.length
    let out: Uint8Array = taken
    for (const flip of this.spec.flips) {
      if (flip.offset >= start && flip.offset < end) {
        if (out === taken) out = Uint8Array.from(taken)
        out[flip.offset - start] = (out[flip.offset - start] ?? 0) ^ flip.mask
      }
    }
    // Split at injection offsets inside this chunk so the injected bytes land
    // exactly before original byte `offset`.
    let from = 0
    for (;;) {
      const injection = this.spec.injections[this.nextInjection]
      if (injection === undefined || injection.offset >= end) break
      // Offsets are sorted and those before `start` were sent by `injectDue`.
      const at = injection.offset - start
      this.enqueue(out.subarray(from, at), now)
      from = at
      this.enqueue(injection.bytes, now)
      this.nextInjection++
    }
    this.enqueue(out.subarray(from), now)
    this.consumed = end
    this.injectDue(now)
  }

  /** Injections at the current offset are sent at once, even if no further byte comes. */
  private injectDue(now: number): void {
    for (;;) {
      const injection = this.spec.injections[this.nextInjection]
      if (injection === undefined || injection.offset > this.consumed) return
      if (this.spec.cut !== undefined && injection.offset > this.spec.cut.at) return
      this.enqueue(injection.bytes, now)
      this.nextInjection++
    }
  }

  private enqueue(bytes: Uint8Array, now: number): void {
    const readyAt = now + this.spec.delayMillis
    for (let i = 0; i < bytes.length; i += this.spec.chunkSize) {
      const piece = bytes.subarray(i, Math.min(bytes.length, i + this.spec.chunkSize))
      this.queue.push({ bytes: piece, readyAt })
      this.queuedBytes += piece.length
    }
  }

  /** The next chunk, if it is due at `now`. */
  take(now: number): Uint8Array | undefined {
    const head = this.queue[0]
    if (head === undefined || head.readyAt > now) return undefined
    this.queue.shift()
    this.queuedBytes -= head.bytes.length
    return head.bytes
  }

  /** When the head chunk is due, if one is queued. */
  nextDue(): number | undefined {
    return this.queue[0]?.readyAt
  }

  clear(): void {
    this.queue = []
    this.queuedBytes = 0
  }
}
