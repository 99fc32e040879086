/**
 * The bounds a connection's waits check (the handshake, `flush` and `end`
 * towards a stalled peer, the graceful close): a deadline is a timer that,
 * once its duration has passed, marks itself expired and calls `onExpire`
 * (which wakes the waits, so that they look again). No wait races a timer
 * fiber.
 *
 * On the system clock a deadline is a host timer: a fiber sleeping on the
 * clock would cost a fork, a suspension and an interruption per deadline,
 * several per connection. Under any other `Clock` (a `TestClock`, an
 * application's own), a detached fiber sleeps on that clock, so that its time
 * is the one that counts.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** A running deadline. */
export interface Deadline {
  /** True once the duration has passed (and `onExpire` was called), unless cancelled first. */
  readonly expired: boolean
  /** Stops the timer; an expired deadline stays expired. Idempotent. */
  readonly cancel: () => void
}

/** The system clock: what a fiber sees when nobody provided another `Clock`. */
const systemClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/** Node caps a timer at 2^31 - 1 ms; a longer deadline re-arms. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** A deadline that never expires (an infinite duration). */
const never: Deadline = { expired: false, cancel: () => {} }

/**
 * Starts a deadline of `duration` on the fiber's clock. `onExpire` runs once,
 * from a timer callback or the sleeping fiber, never after `cancel`.
 */
export const start = (duration: Duration.Duration, onExpire: () => void): Effect.Effect<Deadline> =>
  Effect.withFiber((fiber) => {
    const millis = Duration.toMillis(duration)
    if (!Number.isFinite(millis)) return Effect.succeed(never)
    const clock = fiber.getRef(Clock.Clock)
    return clock === systemClock
      ? Effect.succeed(new TimerDeadline(millis, onExpire))
      : onClock(clock, duration, onExpire)
  })

class TimerDeadline implements Deadline {
  expired = false
  private handle: ReturnType<typeof setTimeout> | undefined
  private left: number
  private readonly onExpire: () => void

  constructor(millis: number, onExpire: () => void) {
    this.left = Math.max(0, millis)
    this.onExpire = onExpire
    this.handle = this.arm()
  }

  private arm(): ReturnType<typeof setTimeout> {
    const now = Math.min(this.left, MAX_TIMER_MILLIS)
    this.left -= now
    return setTimeout(this.fire, now)
  }

  private readonly fire = (): void => {
    if (this.handle === undefined) return
    if (this.left > 0) {
      this.handle = this.arm()
      return
    }
    this.handle = undefined
    this.expired = true
    this.onExpire()
  }

  readonly cancel = (): void => {
    if (this.handle === undefined) return
    clearTimeout(this.handle)
    this.handle = undefined
  }
}

const onClock = (clock: Clock.Clock, duration: Duration.Duration, onExpire: () => void): Effect.Effect<Deadline> => {
  const state = { expired: false, cancelled: false }
  return Effect.map(
    Effect.forkDetach(
      Effect.andThen(
        clock.sleep(duration),
        Effect.sync(() => {
          if (state.cancelled) return
          state.expired = true
          onExpire()
        })
      ),
      { startImmediately: true }
    ),
    (fiber): Deadline => ({
      get expired() {
        return state.expired
      },
      cancel: () => {
        if (state.cancelled) return
        state.cancelled = true
        fiber.interruptUnsafe()
      }
    })
  )
}
