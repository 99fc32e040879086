/**
 * Adversarial scheduling for tests: a test body run under several Effect
 * scheduling budgets, with seeded random interruption points, and the budget
 * and seed of a failure printed so that it can be replayed.
 *
 * Effect yields a fiber to the scheduler every `MaxOpsBeforeYield`
 * operations, so any code may be suspended between two of its operations,
 * and an interruption may land there. A test that runs with Effect's default
 * budget (2048) proves one schedule; the same test under a budget of a few
 * operations suspends the fibers it forks (and the connection's IO fiber, if
 * the connection is made inside the body) almost everywhere.
 *
 * Environment variables override the options, so that a failure printed by a
 * run can be replayed exactly and a soak run can widen the search:
 * `EFFECT_TLS_BUDGETS` (comma-separated), `EFFECT_TLS_SEED` (the first seed)
 * and `EFFECT_TLS_SEEDS` (seeds per budget).
 *
 * @example
 * ```ts
 * import * as Adversarial from "@effect-tls/test/Adversarial"
 * import * as Effect from "effect/Effect"
 *
 * declare const exchange: (size: number) => Effect.Effect<void, string>
 *
 * // Fails with the budget and the seed to replay if any run fails.
 * export const test = Adversarial.run(({ random }) => exchange(random.int(1, 4096)))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as internal from "./internal/adversarial.ts"

/**
 * The smallest budget at which Effect 4.1 makes progress: a fiber resumed
 * from a yield spends its first operation on resuming, and with a budget of
 * 1 or 2 yields again before the next one (a fiber never finishes).
 *
 * @since 0.1.0
 * @category constants
 */
export const minimumBudget: number = internal.minimumBudget

/**
 * The budgets `run` uses unless told otherwise: the smallest that makes
 * progress, the smallest at which Effect's race combinators (`timeout`,
 * `race`) hand a result over without losing it, a few more, and Effect's
 * default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBudgets: ReadonlyArray<number> = internal.defaultBudgets

/**
 * The smallest budget at which `Effect.timeout` (and `Effect.race` against a
 * competitor that does not finish synchronously) lose no result. At 3,
 * Effect 4.1's race hands a loser's result to a parent that no longer
 * listens: a value that an effect took from a queue or a buffer just after
 * the timer won is dropped. This holds for Effect's own `Queue.take` as for
 * this library's reads; tests that interrupt with timeouts or races use
 * budgets from here on.
 *
 * @since 0.1.0
 * @category constants
 */
export const raceSafeBudget: number = internal.raceSafeBudget

/**
 * A seeded pseudo-random source (mulberry32): the same seed gives the same
 * choices.
 *
 * @since 0.1.0
 * @category models
 */
export interface Random {
  /** A number in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** `n` pseudo-random bytes. */
  readonly bytes: (n: number) => Uint8Array
  /** One of `items`. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/**
 * One run of a body: the budget it runs under, its seed, and a random source
 * seeded with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run {
  readonly budget: number
  readonly seed: number
  readonly random: Random
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The budgets to run under. Default {@link defaultBudgets}; `EFFECT_TLS_BUDGETS` overrides. */
  readonly budgets?: ReadonlyArray<number> | undefined
  /** The first seed. Default 1; `EFFECT_TLS_SEED` overrides. */
  readonly seed?: number | undefined
  /** Seeds per budget (seed, seed + 1, ...). Default 1; `EFFECT_TLS_SEEDS` overrides. */
  readonly seeds?: number | undefined
}

/**
 * A run of the body failed. The message names the budget and the seed, and
 * the environment that replays that run alone; `failure` is how it failed.
 *
 * @since 0.1.0
 * @category errors
 */
export const AdversarialFailure: typeof internal.AdversarialFailure = internal.AdversarialFailure

/**
 * @since 0.1.0
 * @category errors
 */
export type AdversarialFailure = internal.AdversarialFailure

/**
 * A seeded random source.
 *
 * @since 0.1.0
 * @category constructors
 */
export const random: (seed: number) => Random = internal.random

/**
 * Runs `body` once per budget and seed, each run under that budget (for the
 * fiber running it and every fiber it forks). Stops at the first failed run,
 * prints its budget and seed, and fails with an {@link AdversarialFailure}.
 *
 * @since 0.1.0
 * @category combinators
 */
export const run: <A, E, R>(
  body: (run: Run) => Effect.Effect<A, E, R>,
  options?: Options
) => Effect.Effect<void, AdversarialFailure, R> = internal.run

/**
 * Runs `self` under a scheduling budget: its fiber, and every fiber it forks,
 * yields every `budget` operations.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBudget: (budget: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  internal.withBudget

/**
 * How {@link interruptAtRandom} interrupts.
 *
 * - `interrupt`: `Fiber.interrupt` from the calling fiber.
 * - `timeout`: `Effect.timeoutOption` with a random short duration.
 * - `race`: `Effect.raceFirst` against a competitor that yields first, then
 *   pauses at random. (Against a competitor that can finish synchronously,
 *   Effect's race resumes the parent within its current operation budget; if
 *   that runs out before it interrupts the loser, and the loser meanwhile
 *   finishes, the loser's result is dropped. That is Effect's race, not the
 *   raced effect; see the guide's "Under every schedule".)
 *
 * @since 0.1.0
 * @category models
 */
export type Interruption = "interrupt" | "timeout" | "race"

/**
 * @since 0.1.0
 * @category models
 */
export interface InterruptOptions {
  /** The ways to interrupt, picked at random. Default `["interrupt"]`. */
  readonly ways?: ReadonlyArray<Interruption> | undefined
  /** The most scheduler yields to wait before interrupting. Default 20. */
  readonly maxYields?: number | undefined
  /** The most microseconds to wait before interrupting (or to time out after). Default 500. */
  readonly maxMicros?: number | undefined
}

/**
 * Runs `effect` and interrupts it at a point chosen by `random`: after a
 * random number of scheduler yields or microseconds, by one of the given
 * ways. Returns how it ended: its own exit if it finished first, an
 * interruption otherwise (whichever way it was stopped).
 *
 * @since 0.1.0
 * @category combinators
 */
export const interruptAtRandom: <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  random: Random,
  options?: InterruptOptions
) => Effect.Effect<Exit.Exit<A, E>, never, R> = internal.interruptAtRandom
