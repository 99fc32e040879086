/**
 * Every wait has a default bound (contract point 12), exercised on the
 * TestClock with no options, and every operation after the scope closed fails
 * the same typed way.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../src/TlsConnection.ts"
import type { TlsError } from "../src/TlsError.ts"
import { reasonOf } from "./utils/exits.ts"
import { scriptedPair } from "./utils/scriptedPair.ts"

/** Lets every fiber that can run, run (the memory pair wakes in microtasks, not timers). */
const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

describe("default bounds, on the TestClock and without options", () => {
  it.effect("the handshake fails Timeout after 10 seconds, not before", () =>
    Effect.gen(function* () {
      // Nobody reads the other end: the client's hello is never answered.
      const { a } = MemoryTransport.makePair()
      const client = yield* Effect.forkScoped(
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a })
      )
      yield* settle
      yield* TestClock.adjust("9999 millis")
      yield* settle
      assert.isUndefined(client.pollUnsafe(), "the handshake ended before its default timeout")
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(client)
      assert.strictEqual(reasonOf(exit), "TlsHandshakeError/Timeout")
    }).pipe(Effect.scoped)
  )

  it.effect("an engine that opens its own transport and never does fails Timeout after 10 seconds, not before", () =>
    Effect.gen(function* () {
      const { a } = MemoryTransport.makePair()
      // A native client dialing a host that never answers: it stays connecting.
      const engine = Object.assign(ScriptedEngine.make({ role: "client" }), { connectingTo: () => "192.0.2.1:443" })
      const client = yield* Effect.forkScoped(TlsConnection.make({ engine, transport: a }))
      yield* settle
      yield* TestClock.adjust("9999 millis")
      yield* settle
      assert.isUndefined(client.pollUnsafe(), "the connect ended before its default timeout")
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(client)
      assert.strictEqual(reasonOf(exit), "TlsTransportError/Timeout")
      const error = Option.getOrUndefined(Exit.findErrorOption(exit))
      assert.include(error?.message, "no connection to 192.0.2.1:443 within 10s")
    }).pipe(Effect.scoped)
  )

  it.effect("flush towards a peer that does not read fails Stalled after 5 seconds, and the connection goes on", () =>
    Effect.gen(function* () {
      const { client, server, control } = yield* scriptedPair()
      control.pause("aToB")
      // More than the pair, the outbox and the write buffer hold: some stays in the write buffer.
      const writer = yield* Effect.forkScoped(client.writer.write(new Uint8Array(4 * 1024 * 1024)))
      yield* settle
      const flush = yield* Effect.forkScoped(client.writer.flush)
      yield* settle
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.isUndefined(flush.pollUnsafe(), "flush ended before its stall bound")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(reasonOf(yield* Fiber.await(flush)), "TlsStateError/Stalled")
      // Nothing was lost: once the wire moves, everything arrives and flush completes.
      control.resume("aToB")
      const reading = yield* Effect.forkScoped(server.reader.readExactly(4 * 1024 * 1024))
      yield* Fiber.join(writer)
      yield* client.writer.flush
      assert.strictEqual((yield* Fiber.join(reading)).length, 4 * 1024 * 1024)
    }).pipe(Effect.scoped)
  )

  it.effect("end towards a peer that does not read fails Stalled after 5 seconds", () =>
    Effect.gen(function* () {
      const { client, server, control } = yield* scriptedPair()
      control.pause("aToB")
      yield* Effect.forkScoped(client.writer.write(new Uint8Array(4 * 1024 * 1024)))
      yield* settle
      const end = yield* Effect.forkScoped(client.writer.end)
      yield* settle
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.isUndefined(end.pollUnsafe(), "end ended before its stall bound")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(reasonOf(yield* Fiber.await(end)), "TlsStateError/Stalled")
      // Released, so that the scope's graceful close (on this TestClock) can finish.
      control.resume("aToB")
      yield* server.reader.readExactly(4 * 1024 * 1024)
    }).pipe(Effect.scoped)
  )

  it.effect("closing the scope towards a peer that does not read is Forced after 5 seconds", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client, control } = yield* scriptedPair().pipe(Scope.provide(scope))
      control.pause("aToB")
      yield* Effect.forkScoped(client.writer.write(new Uint8Array(4 * 1024 * 1024))).pipe(Scope.provide(scope))
      yield* settle
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.isUndefined(closing.pollUnsafe(), "the close ended before its default timeout")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Forced")
    })
  )
})

describe("after the scope closed", () => {
  it.live("every operation fails ConnectionClosed, even with bytes buffered; closed and stats still answer", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client, server } = yield* scriptedPair().pipe(Scope.provide(scope))
      yield* server.writer.write("buffered, never read")
      yield* server.writer.flush
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      assert.isAbove((yield* client.stats).readBuffered, 0)
      yield* Scope.close(scope, Exit.void)
      const operations: ReadonlyArray<readonly [string, Effect.Effect<unknown, TlsError>]> = [
        ["read", client.reader.read],
        ["readExactly", client.reader.readExactly(1)],
        ["readUntil", client.reader.readUntil(",")],
        ["write", client.writer.write("late")],
        ["writeAll", client.writer.writeAll(["late", "r"])],
        ["flush", client.writer.flush],
        ["end", client.writer.end]
      ]
      for (const [name, operation] of operations) {
        assert.strictEqual(reasonOf(yield* Effect.exit(operation)), "TlsStateError/ConnectionClosed", name)
      }
      assert.oneOf((yield* client.closed)._tag, ["Clean", "Forced"])
      yield* client.stats
    })
  )
})
