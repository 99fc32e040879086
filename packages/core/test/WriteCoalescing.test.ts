import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as TlsConnection from "../src/TlsConnection.ts"
import { scriptedPair } from "./utils/scriptedPair.ts"

// The scripted engine makes one record of each chunk the connection hands it,
// and the peer's reader sees one chunk per record: the chunks read show how the
// writes were grouped on the way to the engine.

const readChunks = (reader: TlsConnection.ReadHalf, bytes: number) =>
  Effect.gen(function* () {
    const chunks: Array<Uint8Array> = []
    let total = 0
    while (total < bytes) {
      const chunk = yield* reader.read
      if (Option.isNone(chunk)) return yield* Effect.die(new Error(`ended after ${total} of ${bytes} bytes`))
      chunks.push(chunk.value)
      total += chunk.value.length
    }
    return chunks
  })

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0))
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

describe("write coalescing", () => {
  it.live("small writes waiting together reach the engine as records of at most 16 KiB, in order", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      // 600 writes of 100 bytes, each with its own pattern, accepted before the IO fiber runs.
      const writes = Array.from({ length: 600 }, (_, i) => new Uint8Array(100).fill(i % 251))
      yield* client.writer.writeAll(writes)
      const chunks = yield* readChunks(server.reader, 600 * 100)
      assert.deepStrictEqual(concat(chunks), concat(writes))
      // 60,000 bytes in records of at most 16 KiB of whole writes: 4 records (163, 163, 163, 111 writes).
      assert.deepStrictEqual(
        chunks.map((chunk) => chunk.length),
        [16_300, 16_300, 16_300, 11_100]
      )
    })
  )

  it.live("a write of 4 KiB or more is handed over on its own, not copied into a neighbour", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      const small = new Uint8Array(10).fill(1)
      const large = new Uint8Array(8 * 1024).fill(2)
      yield* client.writer.writeAll([small, small, large, small])
      const chunks = yield* readChunks(server.reader, 30 + 8 * 1024)
      assert.deepStrictEqual(
        chunks.map((chunk) => chunk.length),
        [20, 8 * 1024, 10]
      )
      assert.deepStrictEqual(concat(chunks), concat([small, small, large, small]))
    })
  )
})
