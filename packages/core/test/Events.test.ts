import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type { TlsEvent } from "../src/TlsEvent.ts"
import { scriptedPair } from "./utils/scriptedPair.ts"

const keyUpdates = (events: ReadonlyArray<TlsEvent>) => events.filter((event) => event._tag === "KeyUpdate")

describe("events", () => {
  it.live("a follower that starts late gets the history, from HandshakeDone on", () =>
    Effect.gen(function* () {
      const { client, server, serverEngine } = yield* scriptedPair()
      serverEngine.requestKeyUpdate()
      // The answer's arrival at the server is the sign that the client has seen the request.
      yield* server.events.pipe(
        Stream.filter((event) => event._tag === "KeyUpdate" && event.direction === "received"),
        Stream.take(1),
        Stream.runDrain
      )
      const history = yield* client.events.pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(
        history.map((event) => event._tag),
        ["HandshakeDone", "KeyUpdate", "KeyUpdate"]
      )
      assert.deepStrictEqual(
        keyUpdates(history).map((event) => [event.direction, event.requested]),
        [
          ["received", true],
          ["sent", false]
        ]
      )
    })
  )

  it.live("a follower that falls behind is told how many events it missed", () =>
    Effect.gen(function* () {
      const eventBufferSize = 4
      const { client, server, serverEngine } = yield* scriptedPair({ client: { eventBufferSize } })
      const slow = yield* Stream.toPull(client.events)
      // First pull: the history (HandshakeDone); then the slow follower stops pulling.
      const first = yield* slow
      assert.strictEqual(first[0]._tag, "HandshakeDone")
      const requests = 10
      for (let i = 0; i < requests; i++) serverEngine.requestKeyUpdate()
      // Each request makes two client events (received, answer sent); wait until the server
      // has every answer, so the client has published all of them.
      yield* server.events.pipe(
        Stream.filter((event) => event._tag === "KeyUpdate" && event.direction === "received"),
        Stream.take(requests),
        Stream.runDrain
      )
      const next = yield* slow
      const dropped = next[0]
      assert.strictEqual(dropped._tag, "EventsDropped")
      assert.strictEqual(dropped._tag === "EventsDropped" && dropped.count, 2 * requests - eventBufferSize)
      assert.strictEqual(next.length, 1 + eventBufferSize)
      assert.strictEqual((yield* client.stats).eventsDropped, 2 * requests - eventBufferSize)
    })
  )

  it.live("events end when the connection closes", () =>
    Effect.gen(function* () {
      const { client, server } = yield* scriptedPair()
      const follower = yield* Effect.forkChild(Stream.runCollect(client.events))
      yield* Effect.all([client.writer.end, server.writer.end], { concurrency: 2 })
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Clean")
      const events = yield* Fiber.join(follower)
      assert.deepStrictEqual(
        events.map((event) => event._tag),
        ["HandshakeDone", "CloseNotifySent", "CloseNotifyReceived"]
      )
    })
  )
})
