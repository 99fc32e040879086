import { assert, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import { isTlsError, type TlsError } from "@effect-tls/core/TlsError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Random, Run } from "../../Adversarial.ts"
import type { Capability, ConformanceOptions, ConformancePair } from "../../Conformance.ts"
import { runOne, settings } from "../adversarial.ts"

// -----------------------------------------------------------------------------
// byte helpers
// -----------------------------------------------------------------------------

/** Collects chunks; `concat` joins them. */
export class Collected {
  readonly parts: Array<Uint8Array> = []
  length = 0
  push(chunk: Uint8Array): void {
    // Copied: a chunk handed to a reader is the reader's, but the test keeps it past other reads.
    this.parts.push(chunk.slice())
    this.length += chunk.length
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length)
    let at = 0
    for (const part of this.parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  }
}

/** Asserts byte equality with a useful message (the first difference), without printing megabytes. */
export const assertBytes = (actual: Uint8Array, expected: Uint8Array, what: string): void => {
  const n = Math.min(actual.length, expected.length)
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: first difference at byte ${i} of ${expected.length}`)
  }
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}`)
  }
}

/** Splits `data` into chunks of random sizes in [1, max]. */
export const randomChunks = (data: Uint8Array, random: Random, max: number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let at = 0; at < data.length; ) {
    const n = Math.min(random.int(1, max), data.length - at)
    out.push(data.subarray(at, at + n))
    at += n
  }
  return out
}

export const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte)

// -----------------------------------------------------------------------------
// connection helpers
// -----------------------------------------------------------------------------

/** Reads until the clean end. */
export const readAll = (reader: TlsConnection.ReadHalf): Effect.Effect<Uint8Array, TlsError> =>
  Effect.suspend(() => {
    const collected = new Collected()
    const loop: Effect.Effect<Uint8Array, TlsError> = Effect.flatMap(reader.read, (chunk) => {
      if (Option.isNone(chunk)) return Effect.succeed(collected.concat())
      collected.push(chunk.value)
      return loop
    })
    return loop
  })

/** Reads exactly `n` bytes chunk by chunk (not with `readExactly`, so the read buffer limit holds). */
export const readBytes = (reader: TlsConnection.ReadHalf, n: number): Effect.Effect<Uint8Array, TlsError | string> =>
  Effect.suspend(() => {
    const collected = new Collected()
    const loop: Effect.Effect<Uint8Array, TlsError | string> = Effect.suspend(() => {
      if (collected.length >= n) return Effect.succeed(collected.concat())
      return Effect.flatMap(reader.read, (chunk) => {
        if (Option.isNone(chunk)) return Effect.fail(`the stream ended after ${collected.length} of ${n} bytes`)
        collected.push(chunk.value)
        return loop
      })
    })
    return loop
  })

/** Writes chunks one `write` at a time. */
export const writeChunks = (
  writer: TlsConnection.WriteHalf,
  chunks: ReadonlyArray<Uint8Array>
): Effect.Effect<void, TlsError> => Effect.forEach(chunks, (chunk) => writer.write(chunk), { discard: true })

/** Fails with `message` if `effect` takes longer than `millis`. */
export const within =
  <A, E, R>(millis: number, message: string) =>
  (effect: Effect.Effect<A, E, R>) =>
    Effect.timeoutOrElse(effect, {
      duration: Duration.millis(millis),
      orElse: () => Effect.sync(() => assert.fail(`${message} (no result within ${millis} ms)`))
    })

/**
 * Waits until `progress()` stops changing (the same value over `stable`
 * samples `every` ms apart): the producer is blocked. Polling is the only way
 * to observe "nothing happens"; the loop is bounded by `limit` ms.
 */
export const awaitStall = (
  progress: () => Effect.Effect<number>,
  what: string,
  options?: { readonly limit?: number }
) =>
  Effect.gen(function* () {
    const every = 5
    const stable = 20
    const limit = options?.limit ?? 10_000
    let last = -1
    let same = 0
    for (let waited = 0; waited < limit; waited += every) {
      const now = yield* progress()
      if (now === last && now > 0) {
        if (++same >= stable) return now
      } else {
        same = 0
        last = now
      }
      yield* Effect.sleep(Duration.millis(every))
    }
    return assert.fail(`${what} never stalled within ${limit} ms`)
  })

/** A counter of bytes accepted by completed writes, for a writer that runs until interrupted. */
export const writeForever = (writer: TlsConnection.WriteHalf, chunk: Uint8Array, accepted: { bytes: number }) =>
  Effect.forever(
    writer.write(chunk).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) accepted.bytes += chunk.length
        })
      )
    )
  )

export const isTypedEndOrError = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return true
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) && isTlsError(error.value)
}

export const describeExit = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "success" : Cause.pretty(exit.cause)

// -----------------------------------------------------------------------------
// the suite's registration
// -----------------------------------------------------------------------------

/** How much work the tests do, scaled down under small budgets (a fiber then yields every few operations). */
export interface Scale {
  readonly interruptIterations: number
  readonly floodBytes: number
  readonly transferBytes: number
}

/** What a contract test gets: its run (budget, seed, random source), the scale for that budget, and the pair maker. */
export interface Context {
  readonly run: Run
  readonly scale: Scale
  readonly options: ConformanceOptions
  /** Runs `f` on a fresh pair in its own scope, then checks that nothing is left open. */
  readonly withPair: <A, E>(
    pairOptions: Parameters<ConformanceOptions["makePair"]>[0],
    f: (pair: ConformancePair) => Effect.Effect<A, E, Scope.Scope>
  ) => Effect.Effect<A, E | TlsError>
  /** The resources open before the test, to compare with afterwards. */
  readonly baseline: Effect.Effect<number>
}

export interface Registration {
  /**
   * Registers `body` once per budget, skipped (with the reason in its name)
   * when capabilities are missing. `points` are the contract points
   * (DESIGN.md section 3) the test checks; the title names them with the
   * budget, `name [point 8, budget 16]`, so that results can be told by point.
   */
  readonly contract: (
    points: ReadonlyArray<number>,
    name: string,
    needs: ReadonlyArray<readonly [present: boolean, what: string]>,
    body: (context: Context) => Effect.Effect<unknown, unknown, Scope.Scope>,
    options?: { readonly timeout?: number; readonly minimumBudget?: number }
  ) => void
  readonly has: (capability: Capability) => readonly [boolean, string]
  readonly options: ConformanceOptions
  /** The capability of the pair, which the options declared. */
  readonly need: <A>(value: A | undefined, capability: string) => A
}

/** Under budgets below this, tests move a quarter of the bytes and iterate a quarter as often (each operation costs a scheduler turn there). */
const SMALL_BUDGET = 16

export const registration = (options: ConformanceOptions): Registration => {
  const defaults = {
    interruptIterations: options.scale?.interruptIterations ?? 500,
    floodBytes: options.scale?.floodBytes ?? 64 * 1024 * 1024,
    transferBytes: options.scale?.transferBytes ?? 4 * 1024 * 1024
  }
  const { budgets, seed, seeds } = settings({ budgets: options.budgets, seed: options.scale?.seed ?? 0x5eed })
  const openResources = options.openResources
  const baseline = openResources ?? Effect.succeed(0)

  const withPair: Context["withPair"] = (pairOptions, f) =>
    Effect.gen(function* () {
      const before = yield* baseline
      const result = yield* Effect.scoped(Effect.flatMap(options.makePair(pairOptions), f))
      if (openResources !== undefined) {
        assert.strictEqual(yield* openResources, before, "resources left open after the scope closed")
      }
      return result
    })

  const has = (capability: Capability): readonly [boolean, string] => [
    options.capabilities?.includes(capability) ?? false,
    capability
  ]

  const contract: Registration["contract"] = (points, name, needs, body, testOptions) => {
    const absent = needs.filter(([present]) => !present).map(([, what]) => what)
    const pointsLabel = points.length === 1 ? `point ${points[0]}` : `points ${points.join(" and ")}`
    for (const budget of budgets) {
      const title = `${name} [${pointsLabel}, budget ${budget}]`
      if (absent.length > 0) {
        it.skip(`${title} (skipped: needs ${absent.join(", ")})`, () => Effect.void)
        continue
      }
      if (budget < (testOptions?.minimumBudget ?? 0)) continue
      const divisor = budget < SMALL_BUDGET ? 4 : 1
      const scale: Scale = {
        interruptIterations: Math.ceil(defaults.interruptIterations / divisor),
        // Not scaled: a flood must exceed what the transport itself buffers (megabytes on loopback).
        floodBytes: defaults.floodBytes,
        transferBytes: Math.ceil(defaults.transferBytes / divisor)
      }
      it.live(
        title,
        () =>
          runOne(budget, seed, seeds, (run) => Effect.scoped(body({ run, scale, options, withPair, baseline })), name),
        (testOptions?.timeout ?? 30_000) * seeds
      )
    }
  }

  const need = <A>(value: A | undefined, capability: string): A =>
    value ?? assert.fail(`"${capability}" is declared but missing`)

  return { contract, has, need, options }
}
