import * as Effect from "effect/Effect"

/**
 * A wake-up for one sleeping fiber, safe to call from any callback.
 *
 * Invariant: a `wake` that finds nobody waiting is remembered (one bit), so a
 * wake between the owner's last check and its next `await` is never lost.
 */
export class Signal {
  private pending = false
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  readonly wake = (): void => {
    const resume = this.resume
    if (resume !== undefined) {
      this.resume = undefined
      resume(Effect.void)
    } else {
      this.pending = true
    }
  }

  readonly await: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
      return
    }
    this.resume = resume
    return Effect.sync(() => {
      if (this.resume === resume) this.resume = undefined
    })
  })
}

/**
 * A set of application fibers waiting for a state change. Waiters re-check the
 * state after waking, so waking too many is harmless and waking none is a bug.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>()

  readonly await: Effect.Effect<void> = Effect.callback<void>((resume) => {
    const waiter = () => resume(Effect.void)
    this.waiting.add(waiter)
    return Effect.sync(() => {
      this.waiting.delete(waiter)
    })
  })

  get size(): number {
    return this.waiting.size
  }

  wakeAll(): void {
    if (this.waiting.size === 0) return
    const waiting = Array.from(this.waiting)
    this.waiting.clear()
    for (const waiter of waiting) waiter()
  }
}
