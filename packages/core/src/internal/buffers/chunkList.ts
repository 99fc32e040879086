/**
 * A FIFO of byte chunks with a byte count, consumed from the front.
 *
 * Invariant: `bytes` is the sum of the lengths of the chunks in
 * `chunks[head..tail)`, no stored chunk is empty, and every slot outside that
 * range is `undefined` (a taken chunk is not kept alive, and a scan stops at
 * the first `undefined`). An emptied list starts again at slot 0 of the same
 * array: a list that drains after every chunk or two (the common case)
 * allocates nothing once its array has its working size. An array grown past
 * `KEPT_SLOTS` is dropped when the list empties, so that a burst does not
 * leave an idle connection holding its slots.
 */
export class ChunkList {
  private chunks: Array<Uint8Array | undefined> = []
  private head = 0
  private tail = 0
  bytes = 0

  get isEmpty(): boolean {
    return this.bytes === 0
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks[this.tail++] = chunk
    this.bytes += chunk.length
  }

  /** Puts bytes back at the front (a partial consumption). */
  unshift(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    if (this.head > 0) {
      this.head--
      this.chunks[this.head] = chunk
    } else {
      this.chunks.unshift(chunk)
      this.tail++
    }
    this.bytes += chunk.length
  }

  shift(): Uint8Array | undefined {
    if (this.head >= this.tail) return undefined
    const chunk = this.chunks[this.head] as Uint8Array
    this.chunks[this.head] = undefined
    this.head++
    this.bytes -= chunk.length
    this.settleFront()
    return chunk
  }

  /** After chunks were taken from the front: empty again, or compacted once most slots are behind `head`. */
  private settleFront(): void {
    if (this.head === this.tail) {
      this.reset()
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      this.chunks = this.chunks.slice(this.head, this.tail)
      this.tail -= this.head
      this.head = 0
    }
  }

  /** Empty again: every slot is `undefined` (see the invariant). */
  private reset(): void {
    if (this.chunks.length > KEPT_SLOTS) this.chunks = []
    this.head = 0
    this.tail = 0
  }

  /**
   * Takes the first chunk, cut at `cutAt` bytes if it is longer (the rest
   * stays at the front, not copied; `undefined`: never cut); if it is shorter
   * than `small`, the small chunks right after it come too, copied into one,
   * up to `joinMax` bytes in all. Small writes then reach the engine as one
   * piece instead of one record (and one system call) each. The joined
   * chunk's memory comes from `allocate`, and every byte of it is written.
   */
  shiftCoalesced(
    small: number,
    joinMax: number,
    cutAt: number | undefined,
    allocate: (bytes: number) => Uint8Array
  ): Uint8Array | undefined {
    const first = this.chunks[this.head]
    if (first === undefined) return undefined
    if (cutAt !== undefined && first.length > cutAt) {
      this.chunks[this.head] = first.subarray(cutAt)
      this.bytes -= cutAt
      return first.subarray(0, cutAt)
    }
    let end = this.head + 1
    let total = first.length
    if (total < small) {
      for (let next = this.chunks[end]; next !== undefined; next = this.chunks[end]) {
        if (next.length >= small || total + next.length > joinMax) break
        total += next.length
        end++
      }
    }
    if (end === this.head + 1) return this.shift()
    const out = allocate(total)
    const chunks = this.chunks
    for (let i = this.head, at = 0; i < end; i++) {
      const chunk = chunks[i] as Uint8Array
      chunks[i] = undefined
      out.set(chunk, at)
      at += chunk.length
    }
    this.head = end
    this.bytes -= total
    this.settleFront()
    return out
  }

  /** Takes exactly `n` bytes (`n <= bytes`), splitting a chunk if needed. */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY
    const first = this.chunks[this.head] as Uint8Array
    if (first.length === n) return this.shift() as Uint8Array
    if (first.length > n) {
      this.chunks[this.head] = first.subarray(n)
      this.bytes -= n
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.shift() as Uint8Array
      const want = n - filled
      if (chunk.length > want) {
        out.set(chunk.subarray(0, want), filled)
        this.unshift(chunk.subarray(want))
        filled = n
      } else {
        out.set(chunk, filled)
        filled += chunk.length
      }
    }
    return out
  }

  /**
   * The offset of `delimiter` in the concatenated bytes, searching from
   * `from`, or -1.
   */
  indexOf(delimiter: Uint8Array, from: number): number {
    const first = delimiter[0]
    if (first === undefined) return 0
    let base = 0
    for (let c = this.head; c < this.tail; c++) {
      const chunk = this.chunks[c] as Uint8Array
      let i = from > base ? from - base : 0
      while (i < chunk.length) {
        const at = chunk.indexOf(first, i)
        if (at === -1) break
        if (this.matchesAt(delimiter, c, at)) return base + at
        i = at + 1
      }
      base += chunk.length
    }
    return -1
  }

  private matchesAt(delimiter: Uint8Array, chunkIndex: number, offset: number): boolean {
    let c = chunkIndex
    let i = offset
    for (let d = 0; d < delimiter.length; d++) {
      let chunk = this.chunks[c]
      while (chunk !== undefined && i >= chunk.length) {
        c++
        i = 0
        chunk = this.chunks[c]
      }
      if (chunk === undefined || chunk[i] !== delimiter[d]) return false
      i++
    }
    return true
  }
}

const EMPTY = new Uint8Array(0)

/** The most slots an emptied list keeps for its next chunks. */
const KEPT_SLOTS = 16
