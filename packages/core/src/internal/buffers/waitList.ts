import * as Effect from "effect/Effect"

interface Waiter {
  readonly wake: () => void
  /** Bytes the waiting reader needs in the buffer at once (0: any change will do). */
  readonly demand: number
}

/**
 * Application fibers waiting for the state of one buffer (or of the
 * connection) to change.
 *
 * Invariants:
 * - A fiber registers in the same synchronous step in which it finds that it
 *   must wait: `wait(stale)` evaluates `stale()` inside the registration of
 *   its callback and resumes at once if the state already changed. Effect may
 *   suspend a fiber between any two of its operations (the scheduler's op
 *   budget), so a check in one operation followed by a registration in the
 *   next could miss a wake-up that fell between them and sleep forever.
 * - A waiter's demand lasts exactly as long as its registration: a wake-up or
 *   an interruption removes both, so a reader that gave up never keeps the
 *   buffer raised.
 * - Waiters re-check their state after waking: waking too many is harmless,
 *   waking none is a bug.
 * - `wakeAll` resumes the waiters inline (Effect 4 runs a resumed fiber in the
 *   caller's stack). A fiber committing bytes must never do that: a fiber it
 *   resumed could interrupt it between the commit and the delivery of the
 *   result. Such a fiber calls `wakeSoon`, which defers the wake-up to a
 *   microtask.
 */
export class WaitList {
  /**
   * The waiters, `undefined` while there are none (a connection has several
   * lists, and an idle one waits on one or two of them at most): made by
   * `wait`, dropped by `wakeAll`.
   */
  private waiting: Array<Waiter> | undefined = undefined
  private scheduled = false
  /** Told whenever a fiber starts waiting (with its demand), so that the producer can make room for it. */
  private readonly onWait: ((demand: number) => void) | undefined

  constructor(onWait?: (demand: number) => void) {
    this.onWait = onWait
  }

  get isEmpty(): boolean {
    return this.waiting === undefined || this.waiting.length === 0
  }

  /** The largest demand of the waiting fibers. */
  demand(): number {
    const waiting = this.waiting
    if (waiting === undefined) return 0
    let most = 0
    for (let i = 0; i < waiting.length; i++) {
      const demand = (waiting[i] as Waiter).demand
      if (demand > most) most = demand
    }
    return most
  }

  /** Suspends until a wake-up, or not at all if `stale()` is already true at registration. */
  wait(stale: () => boolean, demand: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (stale()) {
        resume(Effect.void)
        return
      }
      const waiter: Waiter = { wake: () => resume(Effect.void), demand }
      if (this.waiting === undefined) this.waiting = [waiter]
      else this.waiting.push(waiter)
      this.onWait?.(demand)
      return Effect.sync(() => {
        const waiting = this.waiting
        if (waiting === undefined) return
        const index = waiting.indexOf(waiter)
        if (index >= 0) waiting.splice(index, 1)
      })
    })
  }

  wakeAll(): void {
    const waiting = this.waiting
    if (waiting === undefined || waiting.length === 0) return
    // Swapped out first: a woken fiber runs synchronously and may wait again.
    this.waiting = undefined
    for (let i = 0; i < waiting.length; i++) (waiting[i] as Waiter).wake()
  }

  /** `wakeAll` in a microtask (coalesced), for callers that must not run other fibers now. */
  wakeSoon(): void {
    if (this.scheduled || this.isEmpty) return
    this.scheduled = true
    this.wakeScheduled ??= () => {
      this.scheduled = false
      this.wakeAll()
    }
    queueMicrotask(this.wakeScheduled)
  }

  /**
   * The microtask of `wakeSoon`, made on its first use: a connection has
   * several lists, and most never defer a wake-up (an idle one, none).
   */
  private wakeScheduled: (() => void) | undefined = undefined
}
