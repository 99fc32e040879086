/**
 * Contract points 2 and 3: the halves are independent, and control data never
 * waits on the application.
 */
import { assert } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type { ConformancePair } from "../../Conformance.ts"
import {
  assertBytes,
  awaitStall,
  fill,
  type Registration,
  randomChunks,
  readBytes,
  within,
  writeChunks,
  writeForever
} from "./support.ts"

/** Buffers far smaller than the writes, the case where a whole write used to overfill the outbox. */
const small = { readBufferBytes: 16 * 1024, writeBufferBytes: 16 * 1024, controlBufferBytes: 16 * 1024 }

/** The event a side sees when the peer answered its KeyUpdate request. */
const keyUpdateAnswer = (connection: TlsConnection.TlsConnection) =>
  connection.events.pipe(
    Stream.filter((event) => event._tag === "KeyUpdate" && event.direction === "received" && !event.requested),
    Stream.take(1),
    Stream.runCollect
  )

export const register = ({ contract, has, need }: Registration): void => {
  /** The pair with the two capabilities the KeyUpdate tests need. */
  const keyUpdates = (pair: ConformancePair) => ({
    client: pair.client,
    server: pair.server,
    wire: need(pair.wire, "wire"),
    requestKeyUpdate: need(pair.requestKeyUpdate, "requestKeyUpdate")
  })

  contract(
    [2, 3],
    "split-safety: a KeyUpdate answer produced while reading waits for the blocked write side, then goes out before later data",
    [has("wire"), has("requestKeyUpdate")],
    ({ run, withPair, options }) =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server, wire, requestKeyUpdate } = keyUpdates(pair)
          yield* wire.pause("clientToServer")
          // Block the client's write side: its writer fills every buffer down to the paused wire.
          const filler = { bytes: 0 }
          const fillerFiber = yield* Effect.forkChild(writeForever(client.writer, fill(4096, 0x46), filler))
          yield* awaitStall(() => Effect.sync(() => filler.bytes), "the client's writer (wire paused)")

          // The server asks for a KeyUpdate answer and keeps sending: the client must read all of it.
          yield* requestKeyUpdate("server")
          const data = run.random.bytes(256 * 1024)
          const serverWrite = yield* Effect.forkChild(
            writeChunks(server.writer, randomChunks(data, run.random, 20_000))
          )
          const received = yield* readBytes(client.reader, data.length).pipe(
            within(10_000, "the client's reader stalled while its write side was blocked")
          )
          assertBytes(received, data, "server -> client while the client's write side was blocked")
          yield* Fiber.join(serverWrite)

          // Unblock, without the client writing anything new: the answer must go out by itself.
          yield* Fiber.interrupt(fillerFiber)
          const eventFiber = yield* Effect.forkChild(keyUpdateAnswer(server))
          yield* wire.resume("clientToServer")
          const fillerBytes = yield* readBytes(server.reader, filler.bytes).pipe(
            within(10_000, "the server did not receive the client's queued data")
          )
          assert.strictEqual(fillerBytes.length, filler.bytes)
          yield* Fiber.join(eventFiber).pipe(within(5_000, "the server never saw the KeyUpdate answer"))

          // Later application data arrives after the answer.
          const later = new TextEncoder().encode("LATER-APPLICATION-DATA")
          yield* client.writer.write(later)
          yield* client.writer.flush
          assertBytes(yield* readBytes(server.reader, later.length), later, "data written after the answer")
          if (options.capabilities?.includes("receivedRecords")) {
            const records = yield* need(pair.receivedRecords, "receivedRecords")("server")
            const answer = records.lastIndexOf("keyUpdate")
            assert.isAtLeast(answer, 0, "no KeyUpdate record reached the server")
            assert.isBelow(answer, records.lastIndexOf("data"), "the KeyUpdate answer came after later data")
          }
        })
      )
  )

  contract(
    [3],
    "control data never waits on the application: a KeyUpdate answer goes out although the application never writes again",
    [has("wire"), has("requestKeyUpdate")],
    ({ run, withPair }) =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server, wire, requestKeyUpdate } = keyUpdates(pair)
          // The client's last application write is taken by the transport (but held on
          // the paused wire) before the KeyUpdate arrives: no later write can carry the answer.
          yield* wire.pause("clientToServer")
          const last = new TextEncoder().encode("the client's last write")
          yield* client.writer.write(last)
          yield* client.writer.flush.pipe(within(5_000, "a small write was not taken by the paused transport"))
          const answered = yield* Effect.forkChild(keyUpdateAnswer(server))
          yield* requestKeyUpdate("server")
          const data = run.random.bytes(64 * 1024)
          yield* Effect.forkChild(server.writer.write(data))
          assertBytes(yield* readBytes(client.reader, data.length), data, "server -> client after the request")
          yield* wire.resume("clientToServer")
          assertBytes(yield* readBytes(server.reader, last.length), last, "the client's last write")
          yield* Fiber.join(answered).pipe(
            within(5_000, "the KeyUpdate answer was not sent (is it waiting for an application write?)")
          )
        })
      )
  )

  contract(
    [3, 8],
    "a KeyUpdate request after our close_notify is not answered and ends nothing: the peer's later data all arrives, both ends Clean",
    [has("requestKeyUpdate")],
    ({ run, withPair, options }) =>
      withPair({}, (pair) =>
        Effect.gen(function* () {
          const { client, server } = pair
          const requestKeyUpdate = need(pair.requestKeyUpdate, "requestKeyUpdate")
          const mine = run.random.bytes(64 * 1024)
          yield* writeChunks(client.writer, randomChunks(mine, run.random, 16_000))
          yield* client.writer.end.pipe(within(5_000, "the client's close_notify did not go out"))
          assertBytes(yield* readBytes(server.reader, mine.length), mine, "client -> server before its close_notify")
          // The server keeps sending after the client's close_notify, asking for KeyUpdate answers.
          const theirs = run.random.bytes(scaleBytes(run.budget, 512 * 1024))
          const chunks = randomChunks(theirs, run.random, 16_000)
          const sending = yield* Effect.forkChild(
            Effect.gen(function* () {
              for (let i = 0; i < chunks.length; i++) {
                if (i % 4 === 0) yield* requestKeyUpdate("server")
                yield* server.writer.write(chunks[i] as Uint8Array)
              }
              yield* server.writer.end
            })
          )
          assertBytes(
            yield* readBytes(client.reader, theirs.length).pipe(
              within(10_000, "the client stopped reading after its close_notify")
            ),
            theirs,
            "server -> client after the client's close_notify"
          )
          yield* Fiber.join(sending)
          for (const [side, connection] of [
            ["client", client],
            ["server", server]
          ] as const) {
            const outcome = yield* connection.closed.pipe(within(5_000, `the ${side} did not close`))
            assert.strictEqual(outcome._tag, "Clean", `${side}: ${JSON.stringify(outcome)}`)
            if (outcome._tag === "Clean") assert.isTrue(outcome.peerEnded, `${side}: the peer's end not seen`)
            if (outcome._tag === "Clean" && options.truncationDetectable) assert.isTrue(outcome.closeNotifyReceived)
          }
        })
      )
  )

  contract([2], "a reader that never reads does not stop the writer", [], ({ run, scale, withPair }) =>
    withPair(
      { client: { closeTimeout: Duration.seconds(1) }, server: { closeTimeout: Duration.seconds(1) } },
      ({ client, server }) =>
        Effect.gen(function* () {
          // The server floods the client, whose application never reads.
          const flood = yield* Effect.forkChild(writeForever(server.writer, fill(16 * 1024, 0x53), { bytes: 0 }))
          const data = run.random.bytes(scale.transferBytes)
          const writer = yield* Effect.forkChild(writeChunks(client.writer, randomChunks(data, run.random, 32 * 1024)))
          const received = yield* readBytes(server.reader, data.length).pipe(
            within(20_000, "the client's writes stopped while its reader did not read")
          )
          assertBytes(received, data, "client -> server while the client did not read")
          yield* Fiber.join(writer)
          yield* Fiber.interrupt(flood)
        })
    )
  )

  for (const [label, connection, writeBytes] of [
    ["", {}, 16 * 1024],
    [", with writes four times the buffers", small, 64 * 1024]
  ] as const) {
    contract([2], `a blocked writer does not stop the reader${label}`, [], ({ run, scale, withPair }) =>
      withPair(
        {
          client: { ...connection, closeTimeout: Duration.seconds(1) },
          server: { ...connection, closeTimeout: Duration.seconds(1) }
        },
        ({ client, server }) =>
          Effect.gen(function* () {
            // The client writes to a server that never reads: its writer blocks.
            const accepted = { bytes: 0 }
            const blocked = yield* Effect.forkChild(writeForever(client.writer, fill(writeBytes, 0x43), accepted))
            yield* awaitStall(() => Effect.sync(() => accepted.bytes), "the client's writer (server not reading)")
            const data = run.random.bytes(scale.transferBytes)
            const writer = yield* Effect.forkChild(
              writeChunks(server.writer, randomChunks(data, run.random, 32 * 1024))
            )
            const received = yield* readBytes(client.reader, data.length).pipe(
              within(20_000, "the client's reads stopped while its writer was blocked")
            )
            assertBytes(received, data, "server -> client while the client's writer was blocked")
            yield* Fiber.join(writer)
            yield* Fiber.interrupt(blocked)
          })
      )
    )
  }

  contract(
    [2],
    "two peers whose writers are both blocked keep reading: no deadlock, everything arrives both ways",
    [],
    ({ run, scale, withPair }) =>
      withPair({ client: small, server: small }, ({ client, server }) =>
        Effect.gen(function* () {
          const total = Math.min(scale.transferBytes, 2 * 1024 * 1024)
          const up = run.random.bytes(total)
          const down = run.random.bytes(total)
          // Writes four times the buffers, so both writers block on each other's reads;
          // the readers yield between reads, so both sides' buffers fill.
          const slowRead = (connection: TlsConnection.TlsConnection, n: number, seed: number) =>
            Effect.suspend(() => {
              let got = 0
              const parts: Array<Uint8Array> = []
              let x = seed
              return Effect.whileLoop({
                while: () => got < n,
                body: () =>
                  Effect.flatMap(readBytes(connection.reader, Math.min(4096, n - got)), (bytes) => {
                    parts.push(bytes)
                    got += bytes.length
                    x = (x * 1103515245 + 12345) >>> 0
                    return Effect.repeat(Effect.yieldNow, { times: x % 4 })
                  }),
                step: () => {}
              }).pipe(Effect.as(parts))
            })
          const concat = (parts: ReadonlyArray<Uint8Array>) => {
            const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
            let at = 0
            for (const part of parts) {
              out.set(part, at)
              at += part.length
            }
            return out
          }
          const [, , upParts, downParts] = yield* Effect.all(
            [
              writeChunks(client.writer, randomChunks(up, run.random, 64 * 1024)),
              writeChunks(server.writer, randomChunks(down, run.random, 64 * 1024)),
              slowRead(server, total, run.seed),
              slowRead(client, total, run.seed + 1)
            ],
            { concurrency: "unbounded" }
          ).pipe(within(30_000, "the two peers deadlocked"))
          assertBytes(concat(upParts), up, "client -> server")
          assertBytes(concat(downParts), down, "server -> client")
        })
      )
  )
}

/** `bytes`, or a quarter of them under a small budget. */
const scaleBytes = (budget: number, bytes: number): number => (budget < 16 ? bytes / 4 : bytes)
