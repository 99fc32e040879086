/**
 * A FIFO of byte chunks with their total size, for the test engines' inputs
 * and outputs.
 *
 * Invariant: `bytes` is the sum of the lengths of the chunks from `head` on.
 */
export class ChunkQueue {
  private chunks: Array<Uint8Array> = []
  private head = 0
  bytes = 0

  get isEmpty(): boolean {
    return this.head === this.chunks.length
  }

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk)
    this.bytes += chunk.length
  }

  shift(): Uint8Array | undefined {
    const chunk = this.chunks[this.head]
    if (chunk === undefined) return undefined
    this.head++
    this.bytes -= chunk.length
    if (this.head === this.chunks.length) this.clear()
    return chunk
  }

  clear(): void {
    this.chunks = []
    this.head = 0
    this.bytes = 0
  }
}
