/**
 * Micro-benchmark of the connection's cost per connection: a pair over the
 * scripted engine (a three-record handshake, no cryptography) and the memory
 * transport, made, handshaken and closed, many times. Reports microseconds
 * per pair (median of several runs): what the core adds to every handshake.
 *
 * Run: npx -y pnpm@10.34.9 exec node packages/core/bench/handshake.ts
 */
import * as Effect from "effect/Effect"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../src/TlsConnection.ts"

const pairs = Number(process.env.PAIRS ?? 5_000)
const runs = Number(process.env.RUNS ?? 7)

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const pair = Effect.scoped(
  Effect.suspend(() => {
    const { a, b } = MemoryTransport.makePair()
    return Effect.all(
      [
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a }),
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "server" }), transport: b })
      ],
      { concurrency: 2 }
    )
  })
)

const once = (): Promise<number> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const started = performance.now()
      for (let i = 0; i < pairs; i++) yield* pair
      return performance.now() - started
    })
  )

const main = async () => {
  await once()
  const times: Array<number> = []
  for (let r = 0; r < runs; r++) times.push(await once())
  const ms = median(times)
  console.log(
    `connection pairs over the scripted engine: ${((ms * 1e3) / pairs).toFixed(1)} µs per pair, made, handshaken and closed (median of ${runs})`
  )
}

await main()
