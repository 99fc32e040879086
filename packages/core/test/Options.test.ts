import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../src/TlsConnection.ts"

describe("connection options", () => {
  const bad: ReadonlyArray<[string, TlsConnection.ConnectionOptions]> = [
    ["readBufferBytes 0", { readBufferBytes: 0 }],
    ["readBufferBytes -1", { readBufferBytes: -1 }],
    ["readBufferBytes 1.5", { readBufferBytes: 1.5 }],
    ["readBufferBytes NaN", { readBufferBytes: Number.NaN }],
    ["writeBufferBytes 0", { writeBufferBytes: 0 }],
    ["controlBufferBytes Infinity", { controlBufferBytes: Number.POSITIVE_INFINITY }],
    ["eventBufferSize 0", { eventBufferSize: 0 }]
  ]
  for (const [name, options] of bad) {
    it.effect(`${name} is a TlsConfigError, and the transport is released`, () =>
      Effect.gen(function* () {
        const { a, control } = MemoryTransport.makePair()
        const error = yield* Effect.flip(
          TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a, options })
        )
        assert.strictEqual(error._tag, "TlsConfigError")
        assert.strictEqual(error._tag === "TlsConfigError" && error.reason._tag, "InvalidOption")
        assert.strictEqual(control.open(), 1, "the transport given to make was not destroyed")
      })
    )
  }

  it.live("valid small limits are accepted", () =>
    Effect.gen(function* () {
      const { a, b } = MemoryTransport.makePair()
      const options = { readBufferBytes: 1, writeBufferBytes: 1, controlBufferBytes: 1, eventBufferSize: 1 }
      const [client, server] = yield* Effect.all(
        [
          TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a, options }),
          TlsConnection.make({ engine: ScriptedEngine.make({ role: "server" }), transport: b, options })
        ],
        { concurrency: 2 }
      )
      yield* Effect.forkChild(server.writer.writeAll(["one", "two", "three"]))
      assert.strictEqual(new TextDecoder().decode(yield* client.reader.readExactly(11)), "onetwothree")
    })
  )

  it.live("an options object changed after a connection used it is checked again", () =>
    Effect.gen(function* () {
      // Decoded options are kept per object, so that a client's or a server's
      // connections do not decode them again: a change must not slip past that.
      const options: { readBufferBytes: number } = { readBufferBytes: 1024 }
      const pair = Effect.scoped(
        Effect.suspend(() => {
          const { a, b } = MemoryTransport.makePair()
          return Effect.all(
            [
              TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a, options }),
              TlsConnection.make({ engine: ScriptedEngine.make({ role: "server" }), transport: b, options })
            ],
            { concurrency: 2 }
          )
        })
      )
      yield* pair
      options.readBufferBytes = 0
      const error = yield* Effect.flip(pair)
      assert.strictEqual(error._tag, "TlsConfigError")
      assert.strictEqual(error._tag === "TlsConfigError" && error.reason._tag, "InvalidOption")
      assert.include(error.message, "readBufferBytes")
      options.readBufferBytes = 2048
      yield* pair
    })
  )
})
