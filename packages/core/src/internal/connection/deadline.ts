/**
 * The bounds a connection's waits check (the handshake, `flush` and `end`
 * towards a stalled peer, the graceful close): a deadline is a timer that,
 * once its duration has passed, marks itself expired and tells its owner
 * (the driver, which wakes the waits, so that they look again). No wait races a timer
 * fiber.
 *
 * On the system clock a deadline is a host timer: a fiber sleeping on the
 * clock would cost a fork, a suspension and an interruption per deadline,
 * several per connection. Under any other `Clock` (a `TestClock`, an
 * application's own), a fiber of its own sleeps on that clock, so that its
 * time is the one that counts.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** A running deadline. */
export interface Deadline {
  /** True once the duration has passed (and the owner was told), unless cancelled first. */
  readonly expired: boolean
  /** Stops the timer; an expired deadline stays expired. Idempotent. */
  cancel(): void
}

/** What a deadline tells when it expires: its `expire` runs once, never after `cancel`. */
export interface Owner {
  expire(): void
}

/** The system clock: what a fiber sees when nobody provided another `Clock`. */
const systemClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/** Node caps a timer at 2^31 - 1 ms; a longer deadline re-arms. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** A deadline that never expires (an infinite duration). */
const never: Deadline = { expired: false, cancel: () => {} }

/**
 * Starts a deadline of `duration` on the clock of `fiber` (the fiber that
 * waits for it), telling `owner` once it has passed. Synchronous, so that a
 * wait starts its bound in the same step in which it decides to wait, with no
 * operation of its own: on the system clock a deadline is one host timer and
 * this object.
 */
export const startUnsafe = (
  fiber: Fiber.Fiber<unknown, unknown>,
  duration: Duration.Duration,
  owner: Owner
): Deadline => {
  const millis = Duration.toMillis(duration)
  if (!Number.isFinite(millis)) return never
  const clock = fiber.getRef(Clock.Clock)
  return clock === systemClock ? new TimerDeadline(millis, owner) : new ClockDeadline(fiber, clock, duration, owner)
}

/** Every timer's callback, with its deadline as the argument: a deadline costs no closure for it. */
const fireTimer = (deadline: TimerDeadline): void => deadline.fire()

class TimerDeadline implements Deadline {
  expired = false
  private handle: ReturnType<typeof setTimeout> | undefined
  private left: number
  private readonly owner: Owner

  constructor(millis: number, owner: Owner) {
    this.left = Math.max(0, millis)
    this.owner = owner
    this.handle = this.arm()
  }

  private arm(): ReturnType<typeof setTimeout> {
    const now = Math.min(this.left, MAX_TIMER_MILLIS)
    this.left -= now
    return setTimeout(fireTimer, now, this)
  }

  /** `fireTimer`'s only. */
  fire(): void {
    if (this.handle === undefined) return
    if (this.left > 0) {
      this.handle = this.arm()
      return
    }
    this.handle = undefined
    this.expired = true
    this.owner.expire()
  }

  cancel(): void {
    if (this.handle === undefined) return
    clearTimeout(this.handle)
    this.handle = undefined
  }
}

/**
 * A deadline on another clock: a fiber sleeps on it, forked in the waiting
 * fiber's context, so that the clock's own scheduling (a `TestClock`'s) sees it.
 */
class ClockDeadline implements Deadline {
  expired = false
  private cancelled = false
  private readonly sleeper: Fiber.Fiber<void>

  constructor(fiber: Fiber.Fiber<unknown, unknown>, clock: Clock.Clock, duration: Duration.Duration, owner: Owner) {
    this.sleeper = Effect.runForkWith(fiber.context)(
      Effect.andThen(
        clock.sleep(duration),
        Effect.sync(() => {
          if (this.cancelled) return
          this.expired = true
          owner.expire()
        })
      )
    )
  }

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    this.sleeper.interruptUnsafe()
  }
}
