/**
 * Closing a connection before its scope does (`TlsConnection.close`), and a
 * connection made without a scope (`TlsConnection.makeUnscoped`), whose
 * owner is handed the close before anything can interrupt: under several
 * scheduling budgets and seeded interruption points, an interrupted make
 * either handed the close over or released the transport, and nothing is
 * left open.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Adversarial from "../../test/src/Adversarial.ts"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../src/TlsConnection.ts"
import { reasonOf } from "./utils/exits.ts"
import { bytes, scriptedPair, text } from "./utils/scriptedPair.ts"

/** Reads to the clean end, at most `limit` chunks. */
const readText = (connection: TlsConnection.TlsConnection, limit = 1000) =>
  Effect.gen(function* () {
    let all = ""
    for (let i = 0; i < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) return all
      all += text(chunk.value)
    }
    return yield* Effect.die(new Error(`no end after ${limit} chunks`))
  })

describe("TlsConnection.close", () => {
  it.live("closes at once and gracefully: the peer reads every byte, then the end", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* client.writer.write("hello, ")
      yield* client.writer.write("world")
      const received = yield* Effect.forkScoped(readText(server))
      yield* TlsConnection.close(client)
      assert.strictEqual(yield* Fiber.join(received), "hello, world")
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Clean")
      if (outcome._tag === "Clean") assert.isTrue(outcome.closeNotifySent)
      // Every operation after it fails ConnectionClosed.
      assert.strictEqual(reasonOf(yield* Effect.exit(client.writer.write("late"))), "TlsStateError/ConnectionClosed")
      assert.strictEqual(reasonOf(yield* Effect.exit(client.reader.read)), "TlsStateError/ConnectionClosed")
    }).pipe(Effect.scoped)
  )

  it.live("a second close, concurrent or later (the scope's), waits for the first and adds nothing", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      yield* client.writer.write("once")
      const received = yield* Effect.forkScoped(readText(server))
      const closes = yield* Effect.forkScoped(
        Effect.all([TlsConnection.close(client), TlsConnection.close(client)], { concurrency: 2 })
      )
      yield* Fiber.join(closes)
      assert.strictEqual(yield* Fiber.join(received), "once")
      assert.strictEqual((yield* client.closed)._tag, "Clean")
      yield* TlsConnection.close(client)
    }).pipe(Effect.scoped)
  )

  it.effect("a connection not made here is refused with a defect that says so", () =>
    Effect.gen(function* () {
      const { client } = yield* scriptedPair()
      const foreign: TlsConnection.TlsConnection = { ...client }
      const exit = yield* Effect.exit(TlsConnection.close(foreign))
      assert.isTrue(Exit.hasDies(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause.reasons[0] : ""), "not made by TlsConnection.make")
    }).pipe(Effect.scoped)
  )
})

describe("TlsConnection.makeUnscoped", () => {
  it.live("hands the close over before the handshake; running it ends the connection gracefully", () =>
    Effect.gen(function* () {
      const { a, b, control } = MemoryTransport.makePair()
      let close: Effect.Effect<void> | undefined
      const server = yield* Effect.forkScoped(
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "server" }), transport: b })
      )
      const client = yield* TlsConnection.makeUnscoped(
        { engine: ScriptedEngine.make({ role: "client" }), transport: a },
        (given) => {
          close = given
        }
      )
      assert.isDefined(close, "the close was not handed over")
      const peer = yield* Fiber.join(server)
      yield* client.writer.write(bytes("unscoped"))
      const received = yield* Effect.forkScoped(readText(peer))
      yield* close ?? Effect.void
      assert.strictEqual(yield* Fiber.join(received), "unscoped")
      assert.strictEqual((yield* client.closed)._tag, "Clean")
      // Running it again is harmless.
      yield* close ?? Effect.void
      assert.strictEqual(control.open(), 1, "the client's transport is still open after its close")
    }).pipe(Effect.scoped)
  )

  it.live("interrupted anywhere: either the close was handed over, or the transport is released", () =>
    Adversarial.run(
      ({ random }) =>
        Effect.gen(function* () {
          const { a, b, control } = MemoryTransport.makePair()
          let close: Effect.Effect<void> | undefined
          const server = yield* Effect.forkScoped(
            TlsConnection.make({ engine: ScriptedEngine.make({ role: "server" }), transport: b })
          )
          const client = yield* Effect.forkScoped(
            TlsConnection.makeUnscoped({ engine: ScriptedEngine.make({ role: "client" }), transport: a }, (given) => {
              close = given
            })
          )
          yield* Effect.repeat(Effect.yieldNow, { times: random.int(0, 40) })
          yield* Fiber.interrupt(client)
          const exit = yield* Fiber.await(client)
          if (close !== undefined) {
            // Owned: the close ends it, whether the handshake completed or not.
            yield* close
            if (Exit.isSuccess(exit)) assert.notStrictEqual((yield* exit.value.closed)._tag, "Forced")
          } else {
            assert.isTrue(Exit.isFailure(exit), "the make succeeded without handing the close over")
          }
          // Either way the client's transport is gone: only the server's may be open.
          assert.isAtMost(control.open(), 1, "the client's transport was left open")
          yield* Fiber.interrupt(server)
        }).pipe(Effect.scoped),
      { seeds: 8 }
    )
  )
})
