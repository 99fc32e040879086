import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { WaitList } from "./waitList.ts"

/** What a step returns when the operation must wait for the buffer to change. */
export const WAIT: unique symbol = Symbol("effect-tls/WAIT")

/** A step's decision: the effect that ends the operation, or `WAIT`. */
export type Step<A, E> = () => Effect.Effect<A, E> | typeof WAIT

/**
 * Thrown by a commit whose step's decision no longer holds (another fiber
 * took the bytes, or filled the room, in between): the operation starts over.
 */
const RETRY: unique symbol = Symbol("effect-tls/RETRY")

/** Ends a commit that cannot proceed: its operation runs its step again. */
export const retry = (): never => {
  throw RETRY
}

/** What a commit threw (`retry`'s marker, or a buffer's own), if `cause` is exactly that throw; else `undefined`. */
export const thrownByCommit = (cause: Cause.Cause<unknown>): unknown => {
  const [reason] = cause.reasons
  return cause.reasons.length === 1 && reason !== undefined && Cause.isDieReason(reason) ? reason.defect : undefined
}

const isRetry = (cause: Cause.Cause<unknown>): boolean => thrownByCommit(cause) === RETRY

/**
 * The exchange of bytes between application fibers and a buffer, made so that
 * interrupting an operation at any point loses and duplicates nothing.
 *
 * Effect may suspend a fiber between any two of its operations (the
 * scheduler's op budget), and an interruption that lands there discards the
 * value the fiber was carrying. Bytes therefore change hands only inside an
 * `Effect.sync` (the *commit*): its result goes straight to the caller's
 * continuation in the same operation that moves the bytes, so they are
 * either returned (taken, or accepted) or still where they were.
 *
 * An operation runs in steps. A step looks at the buffer, changes nothing, and
 * returns the commit (or an end, or a failure), or `WAIT`. The fiber may be
 * suspended between the step and its commit, and an interruption there finds
 * nothing to undo. Another fiber may act in that gap, so the commit checks
 * its condition again and calls `retry` if it no longer holds, which starts
 * the operation over. (A failure handler is the only frame an operation adds
 * around its commit: it adds no operation on success, but Effect skips it
 * when the fiber is interrupted, so it cannot be used to undo anything.)
 *
 * A commit must not run other fibers (one could interrupt this one between
 * the commit and the delivery of its result): it wakes others with
 * `changed` (a microtask).
 *
 * Shared fields: `version` (changed by the IO fiber and by commits, read by
 * waiting fibers); the wait list, made by the first fiber that waits in it
 * (most connections never do: a read waits in its own slot, a write with
 * room not at all) and woken by whoever changes what its fibers wait for.
 */
export abstract class Handoff {
  private waitList: WaitList | undefined = undefined
  /** Changes whenever something a waiting fiber may be waiting for changes. */
  protected version = 0

  /** Told whenever a fiber starts waiting, with its demand (see `WaitList`). Nothing by default. */
  protected onWait(_demand: number): void {}

  /** The wait list, made now if nobody waited yet: only a fiber about to wait asks for it. */
  protected get waiters(): WaitList {
    this.waitList ??= new WaitList((demand) => this.onWait(demand))
    return this.waitList
  }

  /** Wakes every waiting fiber (inline: see `WaitList.wakeAll`). */
  protected wakeWaiters(): void {
    this.waitList?.wakeAll()
  }

  /** The largest demand of the waiting fibers. */
  protected waitersDemand(): number {
    return this.waitList === undefined ? 0 : this.waitList.demand()
  }

  /**
   * Runs `step` until it returns an effect, waiting for a change in between;
   * `demand` is what the waiting fiber needs at once (see `WaitList`).
   */
  protected operation<A, E>(step: Step<A, E>, demand?: () => number): Effect.Effect<A, E> {
    const attempt: Effect.Effect<A, E> = Effect.suspend(() => {
      const next = step()
      if (next !== WAIT) return next
      const seen = this.version
      return Effect.flatMap(
        this.waiters.wait(() => this.version !== seen, demand === undefined ? 0 : demand()),
        () => attempt
      )
    })
    const operation: Effect.Effect<A, E> = Effect.catchCause(attempt, (cause) =>
      isRetry(cause) ? operation : Effect.failCause(cause)
    )
    return operation
  }

  /** In a commit: the buffer changed; waiters look again (in a microtask). */
  protected changed(): void {
    this.version++
    this.waitList?.wakeSoon()
  }
}
