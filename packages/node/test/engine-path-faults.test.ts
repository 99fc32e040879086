/**
 * The fault matrix of the engine path: every fault of `FaultTransport`, in
 * each direction of the client's transport, at three places (inside the
 * handshake, at a record boundary, inside a record). Each case must end
 * within its bound with the typed outcome expected for it, leave no transport
 * open, and deliver to each side a prefix of what the other sent (no byte
 * twice, none out of order).
 */

import { assert, describe, it } from "@effect/vitest"
import { FaultTransport } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Effect from "effect/Effect"
import * as Starttls from "../src/Starttls.ts"
import { concat, credentials, pattern } from "./engine-path-support.ts"
import {
  faultAt,
  isPrefix,
  type Kind,
  kinds,
  type Place,
  places,
  placesIn,
  type Result,
  recording,
  runSide,
  type Side
} from "./fault-matrix.ts"

const payload = { client: pattern(40 * 1024, 11), server: pattern(40 * 1024, 13) }
const connection = { handshakeTimeout: "1 second", closeTimeout: "300 millis" } as const
/** Bound on one side's whole run (handshake, transfer, close): a stall ends here. */
const sideBound = "2 seconds"
const side = (which: Side, connect: Parameters<typeof runSide>[1]) => runSide(payload[which], connect, sideBound)

type Direction = "inbound" | "outbound"

/**
 * Where the places are in each direction of the client's transport, from a
 * clean run: the middle of the first record (the ClientHello or ServerHello),
 * the start of the first full-size application record, and 1000 bytes into it.
 */
const locate = Effect.gen(function* () {
  const creds = yield* credentials
  const pair = MemoryTransport.makePair()
  const inbound: Array<Uint8Array> = []
  const outbound: Array<Uint8Array> = []
  const serverSide = recording(pair.b, [], outbound)
  yield* Effect.all(
    [
      side("client", Starttls.client(recording(pair.a, inbound, []), { ...creds.client, connection })),
      side("server", Starttls.server(serverSide, { ...creds.server, connection }))
    ],
    { concurrency: 2 }
  )
  return { inbound: placesIn(concat(inbound)), outbound: placesIn(concat(outbound)) }
})

/**
 * What the client and the server may end with. A fault that changes bytes is
 * caught by the side that decrypts them (a handshake or protocol error); the
 * other side then sees an alert, a reset or a truncation. Stalls hit the bound.
 */
const expected = (kind: Kind, direction: Direction, place: Place): Record<Side, ReadonlyArray<Result>> => {
  const affected: Side = direction === "inbound" ? "client" : "server"
  const other: Side = affected === "client" ? "server" : "client"
  const consequence: ReadonlyArray<Result> = [
    "TlsHandshakeError",
    "TlsProtocolError",
    "TlsTransportError",
    "TlsTruncationError",
    "stalled",
    "ok"
  ]
  const both = (mine: ReadonlyArray<Result>): Record<Side, ReadonlyArray<Result>> =>
    ({ [affected]: mine, [other]: consequence }) as Record<Side, ReadonlyArray<Result>>
  switch (kind) {
    case "Chunk":
    case "Delay":
      return { client: ["ok"], server: ["ok"] }
    case "StallAfter":
      return place === "handshake"
        ? // The first side to time out destroys its transport: the other sees a reset.
          {
            client: ["TlsHandshakeError", "TlsTransportError"],
            server: ["TlsHandshakeError", "TlsTransportError"]
          }
        : // Stalled, or a truncation once the stalled side's own end gives up (its `end`
          // fails Stalled after the close timeout, and its scope then destroys the transport).
          both(["stalled", "TlsTruncationError"])
    case "ResetAfter":
      // The fault transport is the client's, so the reset is the client's in both directions.
      return { client: ["TlsTransportError"], server: consequence }
    case "EndAfter":
      return both(place === "handshake" ? ["TlsTransportError", "TlsHandshakeError"] : ["TlsTruncationError"])
    case "FlipByte":
    case "Inject":
      return both(place === "handshake" ? ["TlsHandshakeError", "TlsTransportError"] : ["TlsProtocolError"])
  }
}

const directions: ReadonlyArray<Direction> = ["inbound", "outbound"]

describe("engine path fault matrix (memory pair, client transport faulted)", () => {
  it.live(
    "every fault, both directions, three places: typed outcome within the bound, prefixes only, nothing open",
    () =>
      Effect.gen(function* () {
        const creds = yield* credentials
        const offsets = yield* locate
        const failures: Array<string> = []
        for (const kind of kinds) {
          for (const direction of directions) {
            for (const place of places) {
              const offset = offsets[direction][place]
              const pair = MemoryTransport.makePair()
              const faulty = FaultTransport.make(pair.a, { [direction]: [faultAt(kind, offset)] })
              const started = Date.now()
              const [client, server] = yield* Effect.all(
                [
                  side("client", Starttls.client(faulty, { ...creds.client, connection })),
                  side("server", Starttls.server(pair.b, { ...creds.server, connection }))
                ],
                { concurrency: 2 }
              )
              const elapsed = Date.now() - started
              const name = `${kind} ${direction} @${place} (offset ${offset})`
              const allowed = expected(kind, direction, place)
              if (!allowed.client.includes(client.result))
                failures.push(`${name}: client ${client.result} ${client.reason}`)
              if (!allowed.server.includes(server.result))
                failures.push(`${name}: server ${server.result} ${server.reason}`)
              if (!isPrefix(client.received, payload.server)) failures.push(`${name}: client got a non-prefix`)
              if (!isPrefix(server.received, payload.client)) failures.push(`${name}: server got a non-prefix`)
              if (elapsed > 4_000) failures.push(`${name}: took ${elapsed} ms`)
              if (pair.control.open() !== 0) failures.push(`${name}: ${pair.control.open()} transports left open`)
            }
          }
        }
        assert.deepStrictEqual(failures, [])
      }),
    120_000
  )
})
