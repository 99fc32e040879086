/**
 * One workload of one implementation in this process, for profilers:
 *
 * ```sh
 * node packages/bench/src/profile.ts <impl> <case> [count]
 * perf record -g node --perf-basic-prof packages/bench/src/profile.ts native pingpong 20000
 * node --expose-gc packages/bench/src/profile.ts native heap 1000
 * ```
 *
 * Cases: `pingpong` (64 B round trips), `small` (100 B writes), `download`
 * (MiB, 64 KiB writes), `handshakes` (full), `resumed`: each runs twice
 * unmeasured, then three times, and prints the CPU time per unit (both ends
 * run here). `heap`: the heap growth per idle connection pair (client and
 * server both here) by V8 constructor, from two heap snapshots, largest first;
 * `heap-server` and `heap-client`: the same for one side, the other end raw
 * `node:tls` (compare implementations by difference: the raw end is the same).
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as Effect from "effect/Effect"
import * as Credentials from "./Credentials.ts"
import type { ImplementationId } from "./Implementation.ts"
import * as Implementations from "./Implementations.ts"
import * as Drivers from "./internal/drivers.ts"
import type { Behaviour, Task } from "./Workload.ts"

const cases: Record<string, (count: number) => { behaviour: Behaviour; task: Task; unit: string }> = {
  pingpong: (count) => ({
    behaviour: { _tag: "Echo" },
    task: { _tag: "PingPong", count, size: 64 },
    unit: "round trip"
  }),
  small: (count) => ({
    behaviour: { _tag: "Sink", bytes: count * 100 },
    task: { _tag: "SmallWrites", count, size: 100 },
    unit: "write"
  }),
  download: (mib) => ({
    behaviour: { _tag: "Source", bytes: mib * 2 ** 20, chunkSize: 64 * 1024 },
    task: { _tag: "Download", bytes: mib * 2 ** 20 },
    unit: "MiB"
  }),
  handshakes: (count) => ({
    behaviour: { _tag: "Idle" },
    task: { _tag: "Handshakes", count, concurrency: 1, resume: false },
    unit: "connection"
  }),
  resumed: (count) => ({
    behaviour: { _tag: "Idle" },
    task: { _tag: "Handshakes", count, concurrency: 1, resume: true },
    unit: "connection"
  })
}

/** Self size by V8 node type and name, summed over a heap snapshot. */
const sizesByConstructor = (): Map<string, number> => {
  const file = v8.writeHeapSnapshot(
    path.join(os.tmpdir(), `effect-tls-profile-${process.pid}-${Date.now()}.heapsnapshot`)
  )
  const snapshot = JSON.parse(fs.readFileSync(file, "utf8"))
  fs.rmSync(file)
  const fields: Array<string> = snapshot.snapshot.meta.node_fields
  const types: Array<string> = snapshot.snapshot.meta.node_types[0]
  const nodes: Array<number> = snapshot.nodes
  const strings: Array<string> = snapshot.strings
  const [typeAt, nameAt, sizeAt] = [fields.indexOf("type"), fields.indexOf("name"), fields.indexOf("self_size")]
  const sizes = new Map<string, number>()
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt] ?? 0] ?? "?"
    const name = /string|number/.test(type) ? "" : (strings[nodes[i + nameAt] ?? 0] ?? "").slice(0, 60)
    const key = `${type} ${name}`
    sizes.set(key, (sizes.get(key) ?? 0) + (nodes[i + sizeAt] ?? 0))
  }
  return sizes
}

const main = async () => {
  const [id = "native", name = "pingpong", countArg] = process.argv.slice(2)
  const implementation = Implementations.get(id as ImplementationId)
  const credentials = await Effect.runPromise(Credentials.make)
  if (name === "heap" || name === "heap-server" || name === "heap-client") {
    const count = Number(countArg ?? 1000)
    const gc = (globalThis as { gc?: () => void }).gc
    if (gc === undefined) throw new Error("heap needs node --expose-gc")
    // One side alone: the other end is raw node:tls, the same for every implementation.
    const raw = Implementations.get("raw")
    const serving = name === "heap-client" ? raw : implementation
    const holding = name === "heap-server" ? raw : implementation
    const server = await Drivers.serve(serving, credentials, { _tag: "Idle" })
    // Held through the measurement (see the bench's memory case): the code V8 optimizes meanwhile is in the baseline.
    const warm = await Drivers.hold(holding, credentials, server.port, Math.ceil(count / 5))
    gc()
    gc()
    const before = sizesByConstructor()
    const held = await Drivers.hold(holding, credentials, server.port, count)
    gc()
    gc()
    const after = sizesByConstructor()
    const growth = [...after].map(([key, size]) => [key, (size - (before.get(key) ?? 0)) / count] as const)
    growth.sort((a, b) => b[1] - a[1])
    const total = growth.reduce((sum, [, size]) => sum + size, 0)
    const what = name === "heap" ? "connection pair" : `${name.slice(5)} connection (the peer raw)`
    process.stdout.write(`${id}: ${total.toFixed(0)} bytes of heap per idle ${what}\n`)
    for (const [key, size] of growth.slice(0, 40)) process.stdout.write(`${size.toFixed(0).padStart(7)}  ${key}\n`)
    await held.close()
    await warm.close()
    return
  }
  const make = cases[name]
  if (make === undefined) throw new Error(`unknown case ${name}: ${Object.keys(cases).join(", ")} or heap`)
  const count = Number(
    countArg ?? (name === "download" ? 256 : name.startsWith("h") || name === "resumed" ? 500 : 20000)
  )
  const { behaviour, task, unit } = make(count)
  const server = await Drivers.serve(implementation, credentials, behaviour)
  const perUnit: Array<string> = []
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage()
    await Drivers.run(implementation, credentials, server.port, task)
    const used = process.cpuUsage(start)
    if (round >= 2) perUnit.push(((used.user + used.system) / count).toFixed(2))
  }
  process.stdout.write(`${id} ${name}: CPU µs per ${unit} (both ends) ${perUnit.join(" ")}\n`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
