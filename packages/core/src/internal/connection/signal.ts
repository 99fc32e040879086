import * as Effect from "effect/Effect"

/**
 * The signals woken since the last `resumeDue`, in the order they were
 * woken: one microtask resumes them all, so that a connection needs no
 * function of its own for it. Two arrays take turns (`due` fills while
 * `resumeDue` empties the other), each refilled from slot 0, so that a
 * wake-up allocates nothing.
 *
 * Invariant: the woken signals are `due[0..dueCount)`, and a microtask is
 * queued exactly while `dueCount` > 0.
 */
let due: Array<Signal | undefined> = []
let dueCount = 0
let resuming: Array<Signal | undefined> = []

const resumeDue = (): void => {
  // Swapped out first: a sleeper resumed here runs inline and may wake
  // signals again, which then go to the next microtask.
  const batch = due
  const count = dueCount
  due = resuming
  dueCount = 0
  resuming = batch
  for (let i = 0; i < count; i++) {
    const signal = batch[i] as Signal
    batch[i] = undefined
    try {
      signal.resumeNow()
    } catch (error) {
      // Thrown where a microtask of its own would have thrown it, and the others still resume.
      queueMicrotask(() => {
        throw error
      })
    }
  }
}

/**
 * A wake-up for one sleeping fiber, safe to call from any callback.
 *
 * Invariant: a `wake` that finds nobody waiting is remembered (one bit), so a
 * wake between the owner's last check and its next `await` is never lost.
 */
export class Signal {
  private pending = false
  /** The sleeper's resumption and what it resumes with, set together by `awaitThen`. */
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private next: Effect.Effect<void> = Effect.void

  /** In `due`: set by `wake`, cleared by `resumeNow`. */
  private scheduled = false

  /**
   * Resumes the sleeper in a microtask, not inline: a wake-up comes from an
   * application fiber or a Node callback, which then finishes its own burst of
   * work (more writes, more data) before the sleeper runs once for all of it.
   */
  readonly wake = (): void => {
    if (this.resume === undefined) {
      this.pending = true
      return
    }
    if (this.scheduled) return
    this.scheduled = true
    due[dueCount++] = this
    if (dueCount === 1) queueMicrotask(resumeDue)
  }

  /** `resumeDue`'s only. */
  resumeNow(): void {
    this.scheduled = false
    const resume = this.resume
    if (resume !== undefined) {
      this.resume = undefined
      resume(this.next)
    } else {
      this.pending = true
    }
  }

  /**
   * The owner, between two steps: takes a wake-up that came while it was
   * running, so that it steps again at once instead of suspending only to be
   * resumed.
   */
  takePending(): boolean {
    if (!this.pending) return false
    this.pending = false
    return true
  }

  /**
   * Sleeps until woken, then continues with `next`: the sleeper is resumed
   * with `next` itself, so a wake-up costs no operation beyond the
   * suspension. Build it once: it is the same effect for every sleep.
   *
   * No canceler, on purpose: Effect keeps a canceler's frame on the fiber's
   * stack until the resumed effect completes, and `next` (the owner's loop)
   * sleeps again before it completes, so every sleep would leave a frame.
   * A sleeper interrupted meanwhile keeps its `resume` here; Effect ignores a
   * resumption of an interrupted wait, and the owner never sleeps again.
   */
  awaitThen(next: Effect.Effect<void>): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.pending) {
        this.pending = false
        resume(next)
        return
      }
      this.next = next
      this.resume = resume
    })
  }
}
