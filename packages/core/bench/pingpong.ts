/**
 * Micro-benchmark of the connection's cost per round trip: two connections
 * over `IdentityEngine` (no TLS) and the in-memory pair; the client writes
 * 64 bytes and waits for them to come back, the server echoes. Reports round
 * trips per second and microseconds per round trip (median of several runs),
 * and the Effect operations the two sides' fibers ran per round trip.
 *
 * Run: npx -y pnpm@10.34.9 exec node packages/core/bench/pingpong.ts
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as IdentityEngine from "../../test/src/IdentityEngine.ts"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as TlsConnection from "../src/TlsConnection.ts"

const roundTrips = Number(process.env.TRIPS ?? 50_000)
const runs = Number(process.env.RUNS ?? 7)

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const once = (): Promise<number> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const { a, b } = MemoryTransport.makePair()
        const [client, server] = yield* Effect.all(
          [
            TlsConnection.make({ engine: IdentityEngine.make({ role: "client" }), transport: a }),
            TlsConnection.make({ engine: IdentityEngine.make({ role: "server" }), transport: b })
          ],
          { concurrency: 2 }
        )
        const message = new Uint8Array(64).fill(7)
        // A loop without a yield per turn (`Effect.forever` yields between iterations).
        let open = true
        const echo = Effect.whileLoop({
          while: () => open,
          body: () =>
            Effect.flatMap(server.reader.read, (chunk) => {
              if (Option.isSome(chunk)) return server.writer.write(chunk.value)
              open = false
              return Effect.void
            }),
          step: () => {}
        })
        yield* Effect.forkScoped(echo)
        const started = performance.now()
        for (let i = 0; i < roundTrips; i++) {
          yield* client.writer.write(message)
          yield* client.reader.read
        }
        return performance.now() - started
      })
    )
  )

const main = async () => {
  await once()
  const times: Array<number> = []
  for (let r = 0; r < runs; r++) times.push(await once())
  const ms = median(times)
  console.log(
    `ping-pong 64 B over the identity engine: ${Math.round(roundTrips / (ms / 1e3))} round trips/s, ${((ms * 1e3) / roundTrips).toFixed(2)} µs each (median of ${runs})`
  )
}

await main()
