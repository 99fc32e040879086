import { assert, describe, it } from "@effect/vitest"
import * as TransportChannel from "@effect-tls/core/TransportChannel"
import * as Adversarial from "@effect-tls/test/Adversarial"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** A channel on each side of a memory pair. */
const channels = (options?: TransportChannel.Options & MemoryTransport.Options) =>
  Effect.gen(function* () {
    const pair = MemoryTransport.makePair(options)
    return {
      a: yield* TransportChannel.make(pair.a, options),
      b: yield* TransportChannel.make(pair.b, options),
      control: pair.control
    }
  })

describe("TransportChannel", () => {
  it.live("frames lines, exact reads and delimited reads across chunks", () =>
    Effect.gen(function* () {
      const { a, b } = yield* channels({ chunkSize: 3 })
      yield* b.write("220 ready\r\nbare\nPAYLOAD")
      assert.strictEqual(yield* a.readLine, "220 ready")
      assert.strictEqual(yield* a.readLine, "bare")
      assert.strictEqual(text(yield* a.readExactly(3)), "PAY")
      yield* b.write(";rest")
      assert.strictEqual(text(yield* a.readUntil(";")), "LOAD")
      const rest = text(Option.getOrThrow(yield* a.read))
      assert.isTrue(rest.length > 0 && "rest".startsWith(rest), rest)
    })
  )

  it.live("takes from the transport only what a read needs: what the peer sent later stays unread", () =>
    Effect.gen(function* () {
      const { a, b, control } = yield* channels()
      yield* b.write("STARTTLS\r\n")
      assert.strictEqual(yield* a.readLine, "STARTTLS")
      yield* b.write("sent after the answer")
      yield* Effect.sleep("20 millis")
      assert.strictEqual(yield* a.buffered, 0)
      assert.strictEqual(yield* a.release, 0)
      assert.strictEqual(control.buffered("bToA"), "sent after the answer".length)
    })
  )

  it.live("counts what arrived with the last frame and was not consumed, and refuses everything after release", () =>
    Effect.gen(function* () {
      const { a, b } = yield* channels()
      yield* b.write("STARTTLS\r\nMAIL FROM:<x>\r\n")
      assert.strictEqual(yield* a.readLine, "STARTTLS")
      assert.strictEqual(yield* a.release, "MAIL FROM:<x>\r\n".length)
      for (const operation of [a.read, a.readLine, a.write("late")]) {
        const error = yield* Effect.flip(operation)
        assert.strictEqual(error._tag === "TlsStateError" ? error.reason._tag : error._tag, "ConnectionClosed")
      }
    })
  )

  it.live("a failed frame consumes nothing", () =>
    Effect.gen(function* () {
      const { a, b, control } = yield* channels()
      yield* b.write("0123456789")
      const tooLong = yield* Effect.flip(a.readUntil("\n", { maxBytes: 4 }))
      assert.strictEqual(tooLong._tag === "TlsStateError" ? tooLong.reason._tag : tooLong._tag, "FrameTooLong")
      control.end("bToA")
      const ended = yield* Effect.flip(a.readExactly(11))
      assert.strictEqual(ended._tag === "TlsStateError" ? ended.reason._tag : ended._tag, "EndOfStream")
      assert.strictEqual(text(yield* a.readExactly(10)), "0123456789")
      assert.isTrue(Option.isNone(yield* a.read))
    })
  )

  it.live("every wait is bounded by the idle timeout, and a timed-out read loses nothing", () =>
    Effect.gen(function* () {
      const { a, b } = yield* channels({ idleTimeout: "30 millis" })
      yield* b.write("no newline yet")
      const error = yield* Effect.flip(a.readLine)
      assert.strictEqual(error._tag === "TlsTransportError" ? error.reason._tag : error._tag, "Timeout")
      yield* b.write("\r\n")
      assert.strictEqual(yield* a.readLine, "no newline yet")
    })
  )

  it.effect("a bad idle timeout is a TlsConfigError naming it, before the channel takes the transport", () =>
    Effect.gen(function* () {
      const pair = MemoryTransport.makePair()
      // "banana" is refused by the types, and passed as JavaScript (or a cast) would.
      for (const idleTimeout of ["banana" as Duration.Input, 0, -5, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(TransportChannel.make(pair.a, { idleTimeout }))
        assert.strictEqual(error._tag, "TlsConfigError")
        assert.strictEqual(error.reason._tag === "InvalidOption" ? error.reason.path : "", "idleTimeout")
      }
    })
  )

  it.live("a write waits while the transport reports backpressure, then hands over the whole chunk", () =>
    Effect.gen(function* () {
      const { a, b, control } = yield* channels({ capacity: 8 })
      yield* a.write("12345678")
      const blocked = yield* Effect.forkChild(a.write("9"))
      yield* Effect.sleep("20 millis")
      assert.isUndefined(blocked.pollUnsafe())
      assert.strictEqual(control.buffered("aToB"), 8)
      assert.strictEqual(text(yield* b.readExactly(8)), "12345678")
      yield* Fiber.join(blocked)
      assert.strictEqual(text(yield* b.readExactly(1)), "9")
    })
  )

  it.live("interrupted reads lose and duplicate nothing, under every schedule", () =>
    Adversarial.run(({ random }) =>
      Effect.gen(function* () {
        const { a, b } = yield* channels({ chunkSize: random.int(1, 7) })
        const lines = Array.from({ length: 40 }, (_, i) => `line ${i} ${"x".repeat(random.int(0, 20))}`)
        yield* Effect.forkChild(b.write(lines.map((line) => `${line}\r\n`).join("")))
        const got: Array<string> = []
        while (got.length < lines.length) {
          // Decoded after the read returns: a frame between the read and the
          // caller would be an interruption point of the test's own.
          if (random.chance(0.5)) {
            const exit = yield* Adversarial.interruptAtRandom(a.readLine, random)
            if (Exit.isSuccess(exit)) got.push(exit.value)
          } else {
            const exit = yield* Adversarial.interruptAtRandom(a.readUntil("\r\n"), random)
            if (Exit.isSuccess(exit)) got.push(text(exit.value))
          }
        }
        assert.deepStrictEqual(got, lines)
      })
    )
  )
})
