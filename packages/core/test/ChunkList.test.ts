/**
 * The byte FIFO under both buffers, against a model (one flat array of the
 * bytes pushed and not yet taken): every way of taking (`shift`,
 * `shiftCoalesced`, `take`, `unshift` of a part) returns the next bytes in
 * order, `bytes` is always what is left, and coalesced pieces keep their
 * bounds and fill their memory (given dirty, as `Buffer.allocUnsafe` gives it). Random operations from a printed seed, replayable with
 * `CHUNK_LIST_SEED`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Adversarial from "../../test/src/Adversarial.ts"
import { ChunkList } from "../src/internal/buffers/chunkList.ts"

const SMALL = 64
const MAX = 256
/** Memory as `Buffer.allocUnsafe` may give it: not zeroed, so a byte the join left unwritten shows. */
const dirty = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(0xee)

describe("ChunkList", () => {
  it("hands out exactly the bytes pushed, in order, whatever takes them", () => {
    const seeds =
      process.env.CHUNK_LIST_SEED === undefined
        ? Array.from({ length: 8 }, (_, i) => (Date.now() + i * 7919) >>> 0)
        : [Number(process.env.CHUNK_LIST_SEED)]
    console.log(`ChunkList seeds (replay one with CHUNK_LIST_SEED=<seed>): ${seeds.join(", ")}`)
    for (const seed of seeds) {
      const source = Adversarial.random(seed)
      /** A whole number in [0, below). */
      const next = (below: number): number => source.int(0, below - 1)
      const list = new ChunkList()
      const model: Array<number> = []
      let written = 0
      const expectTaken = (piece: Uint8Array, what: string) => {
        const expected = model.splice(0, piece.length)
        assert.deepStrictEqual(Array.from(piece), expected, `seed ${seed}: ${what} returned other bytes`)
      }
      // Bounded: 3,000 operations per seed, pushes included.
      for (let op = 0; op < 3_000; op++) {
        const kind = next(10)
        if (kind < 5) {
          const size = next(4) === 0 ? SMALL + next(400) : next(SMALL)
          const chunk = Uint8Array.from({ length: size }, () => written++ & 0xff)
          list.push(chunk)
          model.push(...chunk)
        } else if (kind === 5) {
          const chunk = list.shift()
          if (chunk === undefined) assert.strictEqual(model.length, 0, `seed ${seed}: shift found nothing`)
          else expectTaken(chunk, "shift")
        } else if (kind <= 7) {
          const cut = next(2) === 0
          // Joined up to a record, or (as for an engine that cuts its records itself) up to more.
          const joinMax = next(2) === 0 ? MAX : 4 * MAX
          const piece = list.shiftCoalesced(SMALL, joinMax, cut ? MAX : undefined, dirty)
          if (piece === undefined) {
            assert.strictEqual(model.length, 0, `seed ${seed}: shiftCoalesced found nothing`)
          } else {
            if (cut) assert.isAtMost(piece.length, joinMax, `seed ${seed}: a cut or joined piece is within its bound`)
            expectTaken(piece, "shiftCoalesced")
          }
        } else if (kind === 8) {
          const n = next(Math.min(model.length, 600) + 1)
          expectTaken(list.take(n), "take")
        } else if (model.length > 0) {
          // A partial consumption: take a chunk, put its tail back (the model keeps the tail in front).
          const chunk = list.shift() as Uint8Array
          const keep = next(chunk.length)
          expectTaken(chunk.subarray(0, keep), "shift before unshift")
          list.unshift(chunk.subarray(keep))
        }
        if (op % 7 === 0 && model.length > 2) {
          // A delimiter found across chunk boundaries where the model has it (a list reused after
          // emptying must not see stale chunks past its end).
          const at = next(model.length - 1)
          const delimiter = Uint8Array.from(model.slice(at, at + 2))
          let expected = -1
          for (let i = 0; i + 1 < model.length; i++) {
            if (model[i] === delimiter[0] && model[i + 1] === delimiter[1]) {
              expected = i
              break
            }
          }
          assert.strictEqual(list.indexOf(delimiter, 0), expected, `seed ${seed}: indexOf after operation ${op}`)
        }
        assert.strictEqual(list.bytes, model.length, `seed ${seed}: bytes after operation ${op}`)
        assert.strictEqual(list.isEmpty, model.length === 0)
      }
      expectTaken(list.take(model.length), "the final take")
      assert.isTrue(list.isEmpty, `seed ${seed}: empty at the end`)
    }
  })

  it("joins a run of small chunks into one piece of at most max bytes, and leaves a large chunk whole", () => {
    const list = new ChunkList()
    for (let i = 0; i < 10; i++) list.push(new Uint8Array(60).fill(i))
    list.push(new Uint8Array(1000).fill(99))
    const first = list.shiftCoalesced(SMALL, MAX, undefined, dirty) as Uint8Array
    assert.strictEqual(first.length, 240, "four chunks of 60 fit in 256")
    assert.deepStrictEqual([first[0], first[60], first[120], first[239]], [0, 1, 2, 3])
    assert.strictEqual((list.shiftCoalesced(SMALL, MAX, undefined, dirty) as Uint8Array).length, 240)
    assert.strictEqual(
      (list.shiftCoalesced(SMALL, MAX, undefined, dirty) as Uint8Array).length,
      120,
      "a large chunk ends the run"
    )
    assert.strictEqual((list.shiftCoalesced(SMALL, MAX, undefined, dirty) as Uint8Array).length, 1000, "uncut: whole")
    assert.isTrue(list.isEmpty)
  })

  it("joins small chunks up to its own bound while a long chunk is still cut at a record", () => {
    const list = new ChunkList()
    for (let i = 0; i < 10; i++) list.push(new Uint8Array(60).fill(i))
    list.push(new Uint8Array(1000).fill(99))
    const joined = list.shiftCoalesced(SMALL, 4 * MAX, MAX, dirty) as Uint8Array
    assert.strictEqual(joined.length, 600, "all ten small chunks, past one record's 256")
    assert.deepStrictEqual([joined[0], joined[60], joined[599]], [0, 1, 9])
    assert.strictEqual((list.shiftCoalesced(SMALL, 4 * MAX, MAX, dirty) as Uint8Array).length, MAX, "cut at a record")
    assert.strictEqual(list.bytes, 1000 - MAX)
  })
})
