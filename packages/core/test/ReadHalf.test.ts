import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { bytes, scriptedPair, text, writeRecords } from "./utils/scriptedPair.ts"

// The scripted engine turns each chunk it is given (up to 16 KiB) into one
// record and the connection hands each record to the read buffer as one chunk,
// so `writeRecords` (a write and a flush per part) sets the chunk boundaries
// the reader sees. (`writeAll` would not: small writes waiting together are
// joined into one record.)

describe("ReadHalf", () => {
  it.live("readExactly assembles bytes across chunk boundaries", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* writeRecords(server.writer, ["hel", "lo wo", "rld"])
      assert.strictEqual(text(yield* client.reader.readExactly(5)), "hello")
      assert.strictEqual(text(yield* client.reader.readExactly(6)), " world")
    })
  )

  it.live("readExactly larger than the read buffer waits for all of it", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair({ client: { readBufferBytes: 1024 } })
      const data = new Uint8Array(10_000).map((_, i) => i % 251)
      const chunks = Array.from({ length: 100 }, (_, i) => data.subarray(i * 100, (i + 1) * 100))
      yield* Effect.forkChild(server.writer.writeAll(chunks))
      const got = yield* client.reader.readExactly(data.length)
      assert.deepStrictEqual(got, data)
      // The raised demand is gone: the buffer is back to its limit plus a chunk at most.
      yield* server.writer.write(new Uint8Array(4096))
      yield* server.writer.flush
      const stats = yield* client.stats
      assert.isAtMost(stats.readBuffered, 4096)
    })
  )

  it.live("readUntil finds a delimiter split across chunks", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* writeRecords(server.writer, ["line one\r", "\nline two", "\r", "\n", "rest"])
      assert.strictEqual(text(yield* client.reader.readUntil("\r\n")), "line one")
      assert.strictEqual(text(yield* client.reader.readUntil(bytes("\r\n"))), "line two")
      assert.strictEqual(text(yield* client.reader.readExactly(4)), "rest")
    })
  )

  it.live("readUntil fails with FrameTooLong and consumes nothing", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* writeRecords(server.writer, ["abc", "defghij"])
      const error = yield* Effect.flip(client.reader.readUntil("\n", { maxBytes: 4 }))
      assert.strictEqual(error._tag, "TlsStateError")
      assert.strictEqual(error._tag === "TlsStateError" && error.reason._tag, "FrameTooLong")
      assert.strictEqual(text(yield* client.reader.readExactly(10)), "abcdefghij")
    })
  )

  it.live("EndOfStream consumes nothing, for readExactly and readUntil", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* writeRecords(server.writer, ["ab", "c"])
      yield* server.writer.end
      const exact = yield* Effect.flip(client.reader.readExactly(5))
      assert.strictEqual(exact._tag === "TlsStateError" && exact.reason._tag, "EndOfStream")
      const until = yield* Effect.flip(client.reader.readUntil("\n"))
      assert.strictEqual(until._tag === "TlsStateError" && until.reason._tag, "EndOfStream")
      assert.strictEqual(text(yield* client.reader.readExactly(3)), "abc")
      assert.isTrue(Option.isNone(yield* client.reader.read))
    })
  )

  it.live("an interrupted readExactly consumes nothing", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* server.writer.writeAll(["12345"])
      yield* server.writer.flush
      const waiting = yield* Effect.forkChild(client.reader.readExactly(10))
      // Let it take what is there and wait for more, then interrupt it.
      yield* Effect.repeat(Effect.yieldNow, { times: 50 })
      yield* Fiber.interrupt(waiting)
      yield* server.writer.write("67890")
      assert.strictEqual(text(yield* client.reader.readExactly(10)), "1234567890")
    })
  )

  it.live("read, readUntil and write effects can be run more than once", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      const write = server.writer.write("x\n")
      yield* write
      yield* write
      yield* write
      const line = client.reader.readUntil("\n")
      assert.deepStrictEqual([text(yield* line), text(yield* line), text(yield* line)], ["x", "x", "x"])
    })
  )

  it.live("stream delivers everything and ends at close_notify", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      const parts = Array.from({ length: 50 }, (_, i) => `part ${i};`)
      yield* Effect.forkChild(Effect.andThen(server.writer.writeAll(parts), server.writer.end))
      const chunks = yield* Stream.runCollect(client.reader.stream)
      assert.strictEqual(chunks.map(text).join(""), parts.join(""))
    })
  )

  it.live("a reader that waits for more than is buffered wakes the IO fiber that stopped at the limit", () =>
    Effect.gen(function* () {
      // The read buffer fills past its limit (the IO fiber stops), readers then drain it to
      // above half (the IO fiber is not woken by that), and a delimited read waits for a
      // delimiter the engine still holds: it must get it.
      const { client, server } = yield* scriptedPair({ client: { readBufferBytes: 16 * 1024 } })
      const parts = Array.from({ length: 5 }, () => "a".repeat(4000))
      yield* writeRecords(server.writer, [...parts, "\n"])
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      assert.isAtLeast((yield* client.stats).readBuffered, 16 * 1024, "the IO fiber did not fill the buffer")
      yield* client.reader.readExactly(8000)
      const line = yield* client.reader.readUntil("\n", { maxBytes: 15_000 }).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(line.length, 12_000)
    })
  )
})
