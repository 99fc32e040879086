/**
 * The load items of issue 8 at test scale (the load runner runs them large:
 * `pnpm load --case=... --scale=...`): interruption at scale (item 1), churn
 * and leaks (item 5), overload (item 6), graceful shutdown under load
 * (item 7). Each scenario returns its figures and the problems it found.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { churn, interruptAtScale, overload, type Report, shutdown } from "../load/scenarios.ts"

const check = (name: string, report: Report) =>
  Effect.sync(() => {
    console.log(`${name}: ${JSON.stringify(report.figures)}`)
    assert.deepStrictEqual(report.problems, [])
  })

describe("reliability under load (test scale)", () => {
  it.live(
    "interruption at scale: readers and writers interrupted at seeded random moments lose and duplicate nothing",
    () =>
      Effect.gen(function* () {
        for (const path of ["native", "duplex"] as const) {
          const report = yield* interruptAtScale({
            connections: 120,
            concurrency: 40,
            bytes: 48 * 1024,
            interrupts: 12,
            seed: 8,
            path
          })
          yield* check(`interrupt ${path}`, report)
        }
      }),
    60_000
  )

  it.live(
    "churn: connect, transfer, close (resumed and full) leaves heap and RSS flat and nothing open",
    () =>
      Effect.gen(function* () {
        const report = yield* churn({ cycles: 1_000, warmup: 200, every: 50, path: "native" })
        yield* check("churn native", report)
        // After warm-up, growth per cycle stays small (a leak of one connection's state is ~50 KiB).
        assert.isBelow(Number(report.figures.heapSlopeBytesPerCycle), 2_048)
        assert.isBelow(Number(report.figures.rssSlopeBytesPerCycle), 16_384)
      }),
    60_000
  )

  it.live(
    "overload: clients beyond maxConnections are refused at accept with a typed error, admitted ones unaffected",
    () =>
      Effect.gen(function* () {
        yield* check("overload native", yield* overload({ admitted: 8, excess: 24, path: "native" }))
        yield* check("overload duplex", yield* overload({ admitted: 8, excess: 24, path: "duplex" }))
      }),
    60_000
  )

  it.live(
    "graceful shutdown under load: completed writes delivered, close_notify or forced close, nothing left",
    () =>
      Effect.gen(function* () {
        const report = yield* shutdown({
          connections: 100,
          stalled: 10,
          shutdownMs: 400,
          closeMs: 400,
          path: "native"
        })
        yield* check("shutdown native", report)
      }),
    60_000
  )
})
