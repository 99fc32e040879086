/**
 * The fault matrix of the duplex path: every fault of `FaultTransport`, in
 * each direction of the client's transport, at three places (inside the
 * handshake, at a record boundary, inside a record). Each case must end
 * within its bound with the typed outcome expected for it, leave no transport
 * open, and deliver to each side a prefix of what the other sent (no byte
 * twice, none out of order).
 */

import { assert, describe, it } from "@effect/vitest"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Effect from "effect/Effect"
import * as NodeTls from "../src/NodeTls.ts"
import { concat, credentials, pattern } from "./engine-path-support.ts"
import { placesIn, recording, runMatrix, runSide, type Side } from "./fault-matrix.ts"

const payload = { client: pattern(40 * 1024, 11), server: pattern(40 * 1024, 13) }
const connection = { handshakeTimeout: "1 second", closeTimeout: "300 millis" } as const
/** Bound on one side's whole run (handshake, transfer, close): a stall ends here. */
const sideBound = "2 seconds"
const side = (which: Side, connect: Parameters<typeof runSide>[1]) => runSide(payload[which], connect, sideBound)

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
      side("client", NodeTls.upgradeClient(recording(pair.a, inbound, []), { ...creds.client, connection })),
      side("server", NodeTls.upgradeServer(serverSide, { ...creds.server, connection }))
    ],
    { concurrency: 2 }
  )
  return { inbound: placesIn(concat(inbound)), outbound: placesIn(concat(outbound)) }
})

describe("duplex path fault matrix (memory pair, client transport faulted)", () => {
  it.live(
    "every fault, both directions, three places: typed outcome within the bound, prefixes only, nothing open",
    () =>
      Effect.gen(function* () {
        const creds = yield* credentials
        const run = yield* runMatrix({
          faulted: "client",
          offsets: yield* locate,
          connect: {
            client: (transport) => NodeTls.upgradeClient(transport, { ...creds.client, connection }),
            server: (transport) => NodeTls.upgradeServer(transport, { ...creds.server, connection })
          },
          payload,
          sideBound,
          caseBoundMs: 4_000
        })
        assert.deepStrictEqual(run.problems, [])
      }),
    120_000
  )
})
