/**
 * The engine's FIFO (the native engine's inbox, the duplex's outbox) against
 * a model array: random pushes, shifts and head replacements from a printed
 * seed (replayable with `FIFO_SEED`) hand out exactly what was pushed, in
 * order, across the list emptying and refilling its array from slot 0, and
 * bursts past the slots an emptied list keeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Adversarial } from "@effect-tls/test"
import { Fifo } from "../src/internal/engine/fifo.ts"

describe("Fifo", () => {
  it("hands out exactly what was pushed, in order, as it empties and refills", () => {
    const seeds =
      process.env.FIFO_SEED === undefined
        ? Array.from({ length: 8 }, (_, i) => (Date.now() + i * 7919) >>> 0)
        : [Number(process.env.FIFO_SEED)]
    console.log(`Fifo seeds (replay one with FIFO_SEED=<seed>): ${seeds.join(", ")}`)
    for (const seed of seeds) {
      const source = Adversarial.random(seed)
      /** A whole number in [0, below). */
      const next = (below: number): number => source.int(0, below - 1)
      const fifo = new Fifo<number>()
      const model: Array<number> = []
      let pushed = 0
      let emptied = 0
      // Bounded: 5,000 operations per seed.
      for (let op = 0; op < 5_000; op++) {
        const kind = next(10)
        if (kind < 3) {
          // Now and then a burst, past the slots an emptied list keeps.
          const count = next(100) === 0 ? 20 + next(20) : 1
          for (let i = 0; i < count; i++) {
            fifo.push(pushed)
            model.push(pushed++)
          }
        } else if (kind < 9) {
          const item = fifo.shift()
          assert.strictEqual(item, model.shift(), `seed ${seed}: shift after operation ${op}`)
          if (model.length === 0 && item !== undefined) emptied++
        } else if (model.length > 0) {
          const replacement = -1 - op
          fifo.replaceHead(replacement)
          model[0] = replacement
        }
        assert.strictEqual(fifo.peek(), model[0], `seed ${seed}: peek after operation ${op}`)
        assert.strictEqual(fifo.isEmpty, model.length === 0, `seed ${seed}: isEmpty after operation ${op}`)
      }
      assert.isAbove(emptied, 10, `seed ${seed}: the list emptied and refilled`)
    }
  })
})
