/**
 * A first-in, first-out list that empties in place.
 */

/**
 * `shift` moves a head index instead of copying the array, and the array is
 * emptied in place when its last item is taken, so a list that drains
 * regularly (the engine's inbox, the duplex's outbox) allocates nothing once
 * its array has grown to its working size.
 */
export class Fifo<A> {
  private readonly items: Array<A | undefined> = []
  private head = 0

  get isEmpty(): boolean {
    return this.head === this.items.length
  }

  push(item: A): void {
    this.items.push(item)
  }

  /** The first item, left in place, or `undefined` when empty. */
  peek(): A | undefined {
    return this.items[this.head]
  }

  /** Replaces the first item (the list must not be empty): what is left of it after a part was taken. */
  replaceHead(item: A): void {
    this.items[this.head] = item
  }

  /** Takes the first item, or `undefined` when empty. */
  shift(): A | undefined {
    const items = this.items
    if (this.head === items.length) return undefined
    const item = items[this.head]
    // Cleared, so that the list does not keep a taken item alive.
    items[this.head] = undefined
    this.head++
    if (this.head === items.length) {
      items.length = 0
      this.head = 0
    }
    return item
  }
}
