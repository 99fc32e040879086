/**
 * Runs every program of the examples folder (what `pnpm example <name>`
 * runs), each against its own loopback servers, and checks its result.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Echo from "../../../examples/echo.ts"
import * as MtlsRpc from "../../../examples/mtls-rpc.ts"
import * as Postgres from "../../../examples/postgres-sslrequest.ts"
import * as Smtp from "../../../examples/smtp-starttls.ts"
import * as WebSocket from "../../../examples/websocket.ts"

/** Bounded, and quiet: the examples print for a person, not for the test log. */
const run = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(
    Effect.timeout("20 seconds"),
    Effect.provide(Logger.layer([])),
    Effect.provideService(Console.Console, silentConsole)
  )

const silentConsole: Console.Console = { ...console, log: () => {} }

describe("examples", () => {
  it.live("echo: the lines come back in order, then the stream ends", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* run(Echo.main), ["hello", "over TLS", "bye"])
    })
  )

  it.live("mtls-rpc: the authorized client gets 42, the other one an error naming it", () =>
    Effect.gen(function* () {
      const result = yield* run(MtlsRpc.main)
      assert.deepStrictEqual(result.sum, { result: 42 })
      assert.deepStrictEqual(result.denied, { error: "CN=guest may not call add" })
    })
  )

  it.live("smtp-starttls: one message delivered over TLS after STARTTLS", () =>
    Effect.gen(function* () {
      const result = yield* run(Smtp.main)
      assert.strictEqual(result.protocol, "TLSv1.3")
      assert.strictEqual(result.received.length, 1)
      assert.isTrue(result.received[0]?.overTls)
      assert.strictEqual(result.received[0]?.from, "<alice@example.com>")
    })
  )

  it.live("postgres-sslrequest: SCRAM-SHA-256-PLUS login over TLS; bytes pipelined after SSLRequest refused", () =>
    Effect.gen(function* () {
      const result = yield* run(Postgres.main)
      assert.deepStrictEqual(result.login, { authenticated: true, ready: "Z", tls: "TLSv1.3" })
      assert.strictEqual(result.honest, "logged in: alice")
      assert.strictEqual(result.injected, "refused: PlaintextInjection")
    })
  )

  it.live("websocket: TLS end to end inside a WebSocket, lines answered in upper case", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* run(WebSocket.main), ["HELLO", "FROM INSIDE A WEBSOCKET"])
    })
  )
})
