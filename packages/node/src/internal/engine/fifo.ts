/**
 * A first-in, first-out list that empties in place.
 */

/**
 * `shift` moves a head index instead of copying the array, and an emptied
 * list starts again at slot 0 of the same array (without truncating it,
 * which V8 does in its runtime), so a list that drains regularly (the
 * engine's inbox, the duplex's outbox) allocates nothing once its array has
 * grown to its working size.
 *
 * Invariant: the items are `items[head..tail)`, and every other slot is
 * `undefined` (a taken item is not kept alive). An array grown past
 * `KEPT_SLOTS` is dropped when the list empties.
 */
export class Fifo<A> {
  private items: Array<A | undefined> = []
  private head = 0
  private tail = 0

  get isEmpty(): boolean {
    return this.head === this.tail
  }

  push(item: A): void {
    this.items[this.tail++] = item
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
    if (this.head === this.tail) return undefined
    const items = this.items
    const item = items[this.head]
    items[this.head] = undefined
    this.head++
    if (this.head === this.tail) {
      if (items.length > KEPT_SLOTS) this.items = []
      this.head = 0
      this.tail = 0
    }
    return item
  }
}

/** The most slots an emptied list keeps for its next items. */
const KEPT_SLOTS = 16
