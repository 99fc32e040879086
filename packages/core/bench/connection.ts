/**
 * Micro-benchmark of the connection's own overhead: a TLS connection over
 * `IdentityEngine` (no framing, no crypto) and the in-memory transport pair,
 * one direction, a writer fiber and a reader fiber. Reports MB/s and ns per
 * chunk for 16 KiB and 64-byte chunks (medians of several runs), next to the
 * same bytes pushed through the bare memory pipe, so that the difference is
 * what the connection (buffers, IO fiber, wake-ups) costs.
 *
 * Run: npx -y pnpm@10.34.9 exec node packages/core/bench/connection.ts
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as IdentityEngine from "../../test/src/IdentityEngine.ts"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as TlsConnection from "../src/TlsConnection.ts"

interface Case {
  readonly name: string
  readonly chunkBytes: number
  readonly chunks: number
  readonly read: "read" | "stream"
}

const cases: ReadonlyArray<Case> = [
  { name: "16 KiB chunks, read", chunkBytes: 16 * 1024, chunks: 64 * 1024, read: "read" },
  { name: "64 B chunks, read", chunkBytes: 64, chunks: 200_000, read: "read" },
  { name: "64 B chunks, stream", chunkBytes: 64, chunks: 200_000, read: "stream" }
]
const runs = Number(process.env.RUNS ?? 7)
/** Read and write buffers and the memory pipes, in bytes (BUFFER_KIB, default 64 as the library's defaults). */
const BUFFER = Number(process.env.BUFFER_KIB ?? 64) * 1024

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** One transfer through a connection; returns elapsed milliseconds. */
const connectionRun = (c: Case): Promise<number> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const { a, b } = MemoryTransport.makePair({ capacity: BUFFER })
        const options = { readBufferBytes: BUFFER, writeBufferBytes: BUFFER }
        const [client, server] = yield* Effect.all(
          [
            TlsConnection.make({ engine: IdentityEngine.make({ role: "client" }), transport: a, options }),
            TlsConnection.make({ engine: IdentityEngine.make({ role: "server" }), transport: b, options })
          ],
          { concurrency: 2 }
        )
        const chunk = new Uint8Array(c.chunkBytes).fill(1)
        const total = c.chunkBytes * c.chunks
        const write = client.writer.write(chunk)
        const writer = Effect.whileLoop({
          while: (() => {
            let i = 0
            return () => i++ < c.chunks
          })(),
          body: () => write,
          step: () => {}
        })
        let got = 0
        const reader =
          c.read === "read"
            ? Effect.whileLoop({
                while: () => got < total,
                body: () => server.reader.read,
                step: (chunk) => {
                  if (Option.isSome(chunk)) got += chunk.value.length
                }
              })
            : server.reader.stream.pipe(
                Stream.takeUntil((chunk) => {
                  got += chunk.length
                  return got >= total
                }),
                Stream.runDrain
              )
        const started = performance.now()
        yield* Effect.all([writer, reader], { concurrency: 2, discard: true })
        const elapsed = performance.now() - started
        if (got !== total) throw new Error(`read ${got} of ${total} bytes`)
        return elapsed
      })
    )
  )

/** The same bytes through the bare memory pipe, written and read in a tight loop. */
const pipeRun = (c: Case): number => {
  const { a, b } = MemoryTransport.makePair()
  a.setWaker(() => {})
  b.setWaker(() => {})
  const chunk = new Uint8Array(c.chunkBytes).fill(1)
  let got = 0
  const started = performance.now()
  for (let i = 0; i < c.chunks; i++) {
    if (!a.write(chunk)) for (let r = b.read(); r !== undefined; r = b.read()) got += r.length
  }
  for (let r = b.read(); r !== undefined; r = b.read()) got += r.length
  const elapsed = performance.now() - started
  if (got !== c.chunkBytes * c.chunks) throw new Error("pipe lost bytes")
  return elapsed
}

const main = async () => {
  console.log(`node ${process.version}, ${runs} runs per case, medians`)
  // CASE=16 (or 64) runs only the cases whose name starts with it, for profiling.
  for (const c of cases.filter((c) => c.name.startsWith(process.env.CASE ?? ""))) {
    // Warm-up run, not counted.
    await connectionRun(c)
    pipeRun(c)
    const connection: Array<number> = []
    const pipe: Array<number> = []
    for (let r = 0; r < runs; r++) {
      connection.push(await connectionRun(c))
      pipe.push(pipeRun(c))
    }
    const ms = median(connection)
    const pipeMs = median(pipe)
    const bytes = c.chunkBytes * c.chunks
    const nsPerChunk = (ms * 1e6) / c.chunks
    const pipeNsPerChunk = (pipeMs * 1e6) / c.chunks
    console.log(
      [
        c.name.padEnd(22),
        `${(bytes / 1e6 / (ms / 1e3)).toFixed(0).padStart(7)} MB/s`,
        `${nsPerChunk.toFixed(0).padStart(6)} ns/chunk`,
        `(bare pipe ${pipeNsPerChunk.toFixed(0)} ns/chunk;`,
        `connection overhead ${(nsPerChunk - pipeNsPerChunk).toFixed(0)} ns/chunk)`
      ].join("  ")
    )
  }
}

await main()
