import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { EventHub } from "../src/internal/eventHub.ts"
import { TlsEvent } from "../src/TlsEvent.ts"

const ticket = (byte: number) => TlsEvent.SessionTicket({ ticket: Uint8Array.of(byte) })
const shape = (event: TlsEvent) => (event._tag === "SessionTicket" ? `ticket ${event.ticket[0]}` : event._tag)

describe("EventHub", () => {
  it.live("the history replays the latest session ticket only; a follower present sees every ticket", () =>
    Effect.gen(function* () {
      const hub = new EventHub(16)
      hub.publish(TlsEvent.CloseNotifyReceived())
      hub.publish(ticket(1))
      // Subscribed from here on (the pull's scope holds the subscription).
      const early = yield* Stream.toPull(hub.stream)
      const seenEarly: Array<TlsEvent> = [...(yield* early)]
      hub.publish(TlsEvent.KeyUpdate({ direction: "received", requested: false }))
      hub.publish(ticket(2))
      const late = yield* Stream.runCollect(Stream.take(hub.stream, 3))
      assert.deepStrictEqual(late.map(shape), ["CloseNotifyReceived", "KeyUpdate", "ticket 2"])
      while (seenEarly.length < 4) seenEarly.push(...(yield* early))
      assert.deepStrictEqual(seenEarly.map(shape), ["CloseNotifyReceived", "ticket 1", "KeyUpdate", "ticket 2"])
    }).pipe(Effect.scoped, Effect.timeout("5 seconds"))
  )
})
