import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scheduler from "effect/Scheduler"
import type { Interruption, InterruptOptions, Options, Random, Run } from "../Adversarial.ts"

/** @internal */
export const minimumBudget = 3

/** @internal */
export const raceSafeBudget = 4

/** @internal */
export const defaultBudgets: ReadonlyArray<number> = [3, 4, 7, 16, 2048]

/** @internal */
export class AdversarialFailure extends Data.TaggedError("AdversarialFailure")<{
  readonly budget: number
  readonly seed: number
  readonly failure: Cause.Cause<unknown>
}> {
  override get message(): string {
    return (
      `failed under budget ${this.budget} with seed ${this.seed} ` +
      `(replay: EFFECT_TLS_BUDGETS=${this.budget} EFFECT_TLS_SEED=${this.seed} EFFECT_TLS_SEEDS=1): ` +
      Cause.pretty(this.failure)
    )
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed on every runtime. */
class Mulberry implements Random {
  private state: number
  constructor(seed: number) {
    this.state = seed >>> 0
  }
  readonly next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  readonly int = (min: number, max: number): number => min + Math.floor(this.next() * (max - min + 1))
  readonly chance = (p: number): boolean => this.next() < p
  readonly bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = (this.next() * 256) | 0
    return out
  }
  readonly pick = <A>(items: ReadonlyArray<A>): A => {
    if (items.length === 0) throw new RangeError("Random.pick: no items")
    return items[Math.floor(this.next() * items.length)] as A
  }
}

/** @internal */
export const random = (seed: number): Random => new Mulberry(seed)

const fromEnv = (name: string): string | undefined => {
  const value = globalThis.process?.env?.[name]
  return value === undefined || value === "" ? undefined : value
}

const integer = (name: string, text: string): number => {
  const value = Number(text)
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer, got "${text}"`)
  return value
}

/** @internal The budgets, first seed and seed count in force: the environment wins over `options`. */
export const settings = (options: Options | undefined) => {
  const budgetsText = fromEnv("EFFECT_TLS_BUDGETS")
  const budgets =
    budgetsText === undefined
      ? (options?.budgets ?? defaultBudgets)
      : budgetsText.split(",").map((part) => integer("EFFECT_TLS_BUDGETS", part.trim()))
  for (const budget of budgets) {
    if (budget < minimumBudget) {
      throw new RangeError(`a budget below ${minimumBudget} makes no progress in Effect 4.1 (got ${budget})`)
    }
  }
  const seedText = fromEnv("EFFECT_TLS_SEED")
  const seedsText = fromEnv("EFFECT_TLS_SEEDS")
  return {
    budgets,
    seed: seedText === undefined ? (options?.seed ?? 1) : integer("EFFECT_TLS_SEED", seedText),
    seeds: seedsText === undefined ? (options?.seeds ?? 1) : integer("EFFECT_TLS_SEEDS", seedsText)
  }
}

/** @internal */
export const withBudget =
  (budget: number) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(self, Scheduler.MaxOpsBeforeYield, budget)

/**
 * @internal Runs `body` under `budget` for `seeds` seeds from `seed` on, in
 * order; the first failure is printed (with `label`) and returned.
 */
export const runOne = <A, E, R>(
  budget: number,
  seed: number,
  seeds: number,
  body: (run: Run) => Effect.Effect<A, E, R>,
  label?: string
): Effect.Effect<void, AdversarialFailure, R> =>
  Effect.suspend(() => {
    let next = seed
    return Effect.whileLoop({
      while: () => next < seed + seeds,
      body: () => {
        const run: Run = { budget, seed: next, random: random(next) }
        next++
        return Effect.flatMap(Effect.exit(withBudget(budget)(body(run))), (exit) => {
          if (Exit.isSuccess(exit)) return Effect.void
          const failure = new AdversarialFailure({ budget, seed: run.seed, failure: exit.cause })
          // Printed as well as returned: a test runner may show only the assertion.
          console.error(
            `effect-tls: ${label === undefined ? "" : `"${label}" `}failed under budget ${budget} with seed ${run.seed}; ` +
              `replay with EFFECT_TLS_BUDGETS=${budget} EFFECT_TLS_SEED=${run.seed} EFFECT_TLS_SEEDS=1`
          )
          return Effect.fail(failure)
        })
      },
      step: () => {}
    })
  })

/** @internal */
export const run = <A, E, R>(
  body: (run: Run) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<void, AdversarialFailure, R> =>
  Effect.suspend(() => {
    const { budgets, seed, seeds } = settings(options)
    return Effect.forEach(budgets, (budget) => runOne(budget, seed, seeds, body), { discard: true })
  })

/** Waits a random number of scheduler yields, or a random number of microseconds. */
const randomPause = (random: Random, maxYields: number, maxMicros: number): Effect.Effect<void> =>
  random.chance(0.5)
    ? Effect.sleep(Duration.micros(BigInt(random.int(0, maxMicros))))
    : Effect.suspend(() => {
        let left = random.int(0, maxYields)
        return Effect.whileLoop({ while: () => left-- > 0, body: () => Effect.yieldNow, step: () => {} })
      })

const interrupted = <A, E>(): Exit.Exit<A, E> => Exit.failCause(Cause.interrupt())

/** @internal */
export const interruptAtRandom = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  random: Random,
  options?: InterruptOptions
): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.suspend(() => {
    const way = random.pick<Interruption>(options?.ways ?? ["interrupt"])
    const maxYields = options?.maxYields ?? 20
    const maxMicros = options?.maxMicros ?? 500
    switch (way) {
      case "interrupt":
        return Effect.flatMap(Effect.forkChild(effect, { startImmediately: true }), (fiber) =>
          Effect.andThen(randomPause(random, maxYields, maxMicros), Fiber.interrupt(fiber)).pipe(
            Effect.andThen(Fiber.await(fiber))
          )
        )
      case "timeout":
        return Effect.map(
          Effect.timeoutOption(Effect.exit(effect), Duration.micros(BigInt(random.int(0, maxMicros)))),
          (result) => Option.getOrElse(result, interrupted<A, E>)
        )
      case "race":
        return Effect.map(
          Effect.raceFirst(
            Effect.map(Effect.exit(effect), Option.some),
            // The competitor yields before anything else: see `Interruption`.
            Effect.as(
              Effect.andThen(Effect.yieldNow, randomPause(random, maxYields, maxMicros)),
              Option.none<Exit.Exit<A, E>>()
            )
          ),
          (result) => Option.getOrElse(result, interrupted<A, E>)
        )
    }
  })
