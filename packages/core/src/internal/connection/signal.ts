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
    queueMicrotask(this.resumeNow)
  }

  private readonly resumeNow = (): void => {
    this.scheduled = false
    const resume = this.resume
    if (resume !== undefined) {
      this.resume = undefined
      resume(Effect.void)
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
