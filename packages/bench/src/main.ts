/**
 * `pnpm bench [--quick] [--runs=N] [--only=bulk,pingpong,small,handshakes,memory,flood]
 * [--impl=raw,effect,native,duplex,simple,floor,jsduplex] [--runtime=bun|deno|node-22] [--out=file.json]`
 *
 * `--runtime` runs the worker processes, where every measured connection
 * lives, on that runtime (from the root's devDependencies), for the bulk and
 * ping-pong cases, with the implementations whose path the runtime runs: the
 * ratios are then to raw `node:tls` on the same runtime.
 *
 * Measures every implementation side by side in one run: for each case, one
 * unrecorded warm-up per implementation, then `runs` rounds in which every
 * implementation runs once (the order rotates each round, so none always
 * runs first). Figures are medians; what matters is the ratios, since the
 * machine is shared and noisy. Prints a table and writes a JSON document
 * with every run.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeRuntime from "@effect-tls/node/Runtime"
import * as Runtimes from "@effect-tls/runtimes/Runtimes"
import * as Effect from "effect/Effect"
import * as Credentials from "./Credentials.ts"
import { type CaseName, caseNames, type Implementation, type ImplementationId, measuredIn } from "./Implementation.ts"
import * as Implementations from "./Implementations.ts"
import * as Drivers from "./internal/drivers.ts"
import { Peer } from "./internal/peer.ts"
import type { Memory } from "./internal/protocol.ts"
import { Progress } from "./Progress.ts"
import * as Report from "./Report.ts"
import type { Behaviour, Sample, Task } from "./Workload.ts"

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

interface Sizes {
  readonly runs: number
  readonly bulkBytes: number
  readonly chunkSize: number
  readonly pingPongCount: number
  readonly smallWriteCount: number
  readonly handshakeCount: number
  readonly idleConnections: number
  readonly floodBytes: number
  readonly floodSeconds: number
}

const full: Sizes = {
  runs: 5,
  bulkBytes: GiB,
  chunkSize: 64 * KiB,
  pingPongCount: 50_000,
  smallWriteCount: 1_000_000,
  handshakeCount: 1_000,
  idleConnections: 5_000,
  floodBytes: GiB,
  floodSeconds: 4
}

const quick: Sizes = {
  runs: 3,
  bulkBytes: 32 * MiB,
  chunkSize: 64 * KiB,
  pingPongCount: 3_000,
  smallWriteCount: 50_000,
  handshakeCount: 120,
  idleConnections: 300,
  floodBytes: GiB,
  floodSeconds: 1
}

const allCases = caseNames

/** The cases `--runtime` runs: the others measure memory and handshakes through Node-only flags and figures. */
const runtimeCases: ReadonlyArray<CaseName> = ["bulk", "pingpong"]

/** Both `--flag=value` and `--flag value` (for `--runtime bun`); a bare `--flag` is `true`. */
const parseFlags = (argv: ReadonlyArray<string>): Map<string, string> => {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i] ?? "")
    if (match === null || match[1] === undefined) throw new Error(`unknown argument ${argv[i]}`)
    const next = argv[i + 1]
    if (match[2] === undefined && match[1] === "runtime" && next !== undefined && !next.startsWith("--")) {
      flags.set(match[1], next)
      i++
    } else {
      flags.set(match[1], match[2] ?? "true")
    }
  }
  return flags
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  const flags = parseFlags(argv)
  const runtimeId = flags.get("runtime")
  const runtime = runtimeId === undefined ? undefined : Runtimes.get(runtimeId)
  const runsOnRuntime =
    runtime === undefined ? undefined : NodeRuntime.paths({ name: runtime.name, version: Runtimes.versionOf(runtime) })
  const mode = flags.has("quick") ? "quick" : "full"
  const base = mode === "quick" ? quick : full
  const runs = flags.has("runs") ? Number(flags.get("runs")) : base.runs
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer")
  const only = (flags.get("only")?.split(",") ??
    (runtime === undefined ? allCases : runtimeCases)) as ReadonlyArray<CaseName>
  for (const name of only) {
    if (!allCases.includes(name)) throw new Error(`unknown case ${name}`)
    if (runtime !== undefined && !runtimeCases.includes(name)) {
      throw new Error(`--runtime runs ${runtimeCases.join(" and ")} only, not ${name}`)
    }
  }
  const ids = flags.get("impl")?.split(",") as ReadonlyArray<ImplementationId> | undefined
  const chosen = ids === undefined ? Implementations.all : ids.map(Implementations.get)
  // An implementation on a path the runtime refuses would only measure the refusal.
  const implementations =
    runsOnRuntime === undefined
      ? chosen
      : chosen.filter((implementation) => !isPath(implementation.id) || runsOnRuntime.includes(implementation.id))
  const suffix = runtime === undefined ? "" : `-${runtime.id}`
  const out = flags.get("out") ?? path.join(import.meta.dirname, "..", "results", `${mode}${suffix}-latest.json`)
  return { mode, sizes: { ...base, runs }, only, implementations, out, runtime } as const
}

const isPath = (id: ImplementationId): id is "native" | "duplex" => id === "native" || id === "duplex"

const rotate = <A>(items: ReadonlyArray<A>, by: number): ReadonlyArray<A> =>
  items.map((_, i) => items[(i + by) % items.length] as A)

const throughputUnit = "MB/s"

const main = async () => {
  const { mode, sizes, only, implementations, out, runtime } = parseArgs(process.argv.slice(2))
  const ids = implementations.map((implementation) => implementation.id)
  const has = (name: CaseName) => only.includes(name)
  const comparisons =
    (has("bulk") ? 4 : 0) + (has("pingpong") ? 1 : 0) + (has("small") ? 1 : 0) + (has("handshakes") ? 4 : 0)
  const progress = new Progress(
    comparisons * (sizes.runs + 1) * implementations.length +
      (has("memory") ? implementations.length : 0) +
      (has("flood") ? implementations.length : 0)
  )
  const started = new Date()
  const credentials = await Effect.runPromise(Credentials.make)
  const results: Array<Report.MetricResult> = []
  const peers: Array<Peer> = []
  const startPeer = async (gc: boolean) => {
    const peer = await Peer.start({ gc, runtime })
    peers.push(peer)
    return peer
  }
  const stopPeer = async (peer: Peer) => {
    await peer.stop()
    peers.splice(peers.indexOf(peer), 1)
  }

  /**
   * Runs `sample` for every implementation: a warm-up, then `runs` rounds in
   * rotating order. Each metric's runs are collected per implementation.
   */
  const compare = async (
    title: string,
    specs: ReadonlyArray<Report.MetricSpec>,
    options: {
      readonly skip?: (implementation: Implementation) => boolean
      /** The case: implementations measured in other cases only sit it out. */
      readonly name: CaseName
      readonly sample: (implementation: Implementation) => Promise<Record<string, number>>
      readonly notes?: () => ReadonlyArray<string>
    }
  ) => {
    const runs = new Map<string, Partial<Record<ImplementationId, Array<number>>>>(specs.map((spec) => [spec.id, {}]))
    for (let round = 0; round <= sizes.runs; round++) {
      for (const implementation of rotate(implementations, round)) {
        progress.step(
          title,
          round === 0 ? `warm-up ${implementation.id}` : `run ${round}/${sizes.runs} ${implementation.id}`
        )
        if (options.skip?.(implementation) === true) continue
        if (!measuredIn(implementation, options.name)) continue
        const values = await options.sample(implementation)
        if (round === 0) continue
        for (const spec of specs) {
          const perImplementation = runs.get(spec.id) ?? {}
          const list = perImplementation[implementation.id] ?? []
          list.push(values[spec.id] ?? Number.NaN)
          perImplementation[implementation.id] = list
        }
      }
    }
    const notes = options.notes?.() ?? []
    for (const spec of specs) results.push(Report.summarize(spec, runs.get(spec.id) ?? {}, notes))
  }

  /**
   * The processes of the timed cases, two per implementation, started on first
   * use: `home` runs the measured client (and, in one-process cases, the
   * server too), `away` runs the server of two-process cases. Each
   * implementation has processes of its own, so that no implementation runs
   * in code that V8 compiled for another: the native and duplex paths share
   * the connection code, and one's calls there made the other's slower (small
   * writes measured 0.45 of raw with all four in one process, 0.60 alone).
   */
  const processes = new Map<ImplementationId, { readonly home: Peer; readonly away: Peer }>()
  const processesOf = async (implementation: Implementation) => {
    let found = processes.get(implementation.id)
    if (found === undefined) {
      found = { home: await startPeer(false), away: await startPeer(false) }
      processes.set(implementation.id, found)
    }
    return found
  }

  /**
   * Starts one server per implementation, in its `home` process (one-process
   * cases) or its `away` process, for the duration of `body`.
   */
  const withServers = async <A>(
    name: CaseName,
    behaviour: Behaviour,
    where: "home" | "away",
    body: (port: (implementation: Implementation) => number) => Promise<A>
  ): Promise<A> => {
    const servers = new Map<ImplementationId, { port: number; close: () => Promise<void> }>()
    try {
      for (const implementation of implementations) {
        if (!measuredIn(implementation, name)) continue
        const peer = (await processesOf(implementation))[where]
        const { port, handle } = await peer.request<{ port: number; handle: number }>({
          op: "serve",
          implementation: implementation.id,
          credentials,
          behaviour
        })
        servers.set(implementation.id, { port, close: () => peer.request({ op: "close", handle }) })
      }
      return await body((implementation) => {
        const server = servers.get(implementation.id)
        if (server === undefined) throw new Error(`no server for ${implementation.id}`)
        return server.port
      })
    } finally {
      for (const server of servers.values()) await server.close()
    }
  }

  /** Runs `task` as a client in the implementation's `home` process. */
  const run = async (implementation: Implementation, port: number, task: Task): Promise<Sample> =>
    (await processesOf(implementation)).home.request<Sample>({
      op: "run",
      implementation: implementation.id,
      credentials,
      port,
      task
    })

  try {
    if (has("bulk")) {
      for (const processCount of [1, 2] as const) {
        for (const direction of ["download", "upload"] as const) {
          const label = `bulk ${processCount === 1 ? "1 process" : "2 processes"} ${direction === "download" ? "server->client" : "client->server"}`
          const id = `bulk-${processCount}p-${direction}`
          const { bytes, chunkSize } = { bytes: sizes.bulkBytes, chunkSize: sizes.chunkSize }
          const behaviour: Behaviour =
            direction === "download" ? { _tag: "Source", bytes, chunkSize } : { _tag: "Sink", bytes }
          const task: Task =
            direction === "download" ? { _tag: "Download", bytes } : { _tag: "Upload", bytes, chunkSize }
          await withServers("bulk", behaviour, processCount === 1 ? "home" : "away", (port) =>
            compare(
              label,
              [
                {
                  id,
                  title: label,
                  unit: throughputUnit,
                  better: "higher",
                  targets: [
                    { _tag: "Ratio", subject: "native", reference: "raw", min: 0.97 },
                    { _tag: "Ratio", subject: "duplex", reference: "native", min: 0.66 },
                    { _tag: "Beats", subject: "native", reference: "effect" }
                  ]
                },
                {
                  id: `${id}-cpu`,
                  title: `${label} CPU`,
                  unit: "CPU s/GB",
                  better: "lower",
                  targets: [
                    { _tag: "RatioAtMost", subject: "native", reference: "raw", max: 1.0 },
                    { _tag: "Beats", subject: "native", reference: "effect" }
                  ]
                }
              ],
              {
                name: "bulk",
                sample: async (implementation) => {
                  const remote = processCount === 2 ? (await processesOf(implementation)).away : undefined
                  const peerCpu0 = remote === undefined ? 0 : await remote.request<number>({ op: "cpu" })
                  const sample = await run(implementation, port(implementation), task)
                  const peerCpu = remote === undefined ? 0 : (await remote.request<number>({ op: "cpu" })) - peerCpu0
                  return {
                    [id]: bytes / sample.seconds / 1e6,
                    [`${id}-cpu`]: (sample.cpuSeconds + peerCpu) / (bytes / 1e9)
                  }
                },
                notes: () => [
                  `${bytes} bytes in ${chunkSize}-byte writes per run; CPU is both endpoints' user+system time` +
                    (processCount === 2 ? " (the peer's includes its handshake and close)" : "")
                ]
              }
            )
          )
        }
      }
    }

    if (has("pingpong")) {
      const task: Task = { _tag: "PingPong", count: sizes.pingPongCount, size: 64 }
      await withServers("pingpong", { _tag: "Echo" }, "home", (port) =>
        compare(
          "ping-pong 64 B",
          [
            {
              id: "pingpong",
              title: "ping-pong 64 B, 1 process",
              unit: "round trips/s",
              better: "higher",
              targets: [
                { _tag: "Ratio", subject: "native", reference: "raw", min: 0.76 },
                { _tag: "Ratio", subject: "native", reference: "floor", min: 0.95 },
                { _tag: "Beats", subject: "native", reference: "effect" },
                { _tag: "Beats", subject: "duplex", reference: "effect" }
              ]
            }
          ],
          {
            name: "pingpong",
            sample: async (implementation) => {
              const sample = await run(implementation, port(implementation), task)
              return { pingpong: task.count / sample.seconds }
            },
            notes: () => [`${task.count} round trips per run`]
          }
        )
      )
    }

    if (has("small")) {
      const { smallWriteCount: count } = sizes
      const task: Task = { _tag: "SmallWrites", count, size: 100 }
      await withServers("small", { _tag: "Sink", bytes: count * 100 }, "home", (port) =>
        compare(
          "small writes 100 B",
          [
            {
              id: "small",
              title: "small writes 100 B, 1 process",
              unit: "msgs/s",
              better: "higher",
              targets: [
                { _tag: "Ratio", subject: "native", reference: "raw", min: 0.8 },
                { _tag: "Ratio", subject: "native", reference: "floor", min: 0.95 },
                { _tag: "Beats", subject: "native", reference: "effect" },
                { _tag: "Beats", subject: "duplex", reference: "effect" }
              ]
            }
          ],
          {
            name: "small",
            sample: async (implementation) => {
              const sample = await run(implementation, port(implementation), task)
              return { small: count / sample.seconds }
            },
            notes: () => [`${count} messages of 100 bytes per run, one write each, until the server's ack`]
          }
        )
      )
    }

    if (has("handshakes")) {
      for (const resume of [false, true]) {
        for (const concurrency of [1, 8]) {
          const label = `handshakes ${resume ? "resumed" : "full"}, ${concurrency} concurrent`
          const id = `handshakes-${resume ? "resumed" : "full"}-${concurrency}`
          const task: Task = { _tag: "Handshakes", count: sizes.handshakeCount, concurrency, resume }
          const resumedCounts: Partial<Record<ImplementationId, Array<number>>> = {}
          await withServers("handshakes", { _tag: "Idle" }, "home", (port) =>
            compare(
              label,
              [
                {
                  id,
                  title: label,
                  unit: "handshakes/s",
                  better: "higher",
                  targets: [
                    { _tag: "Ratio", subject: "native", reference: "raw", min: resume ? 0.8 : 0.85 },
                    { _tag: "Ratio", subject: "simple", reference: "raw", min: resume ? 0.8 : 0.85 },
                    { _tag: "Beats", subject: "native", reference: "effect" },
                    { _tag: "Beats", subject: "duplex", reference: "effect" }
                  ]
                }
              ],
              {
                skip: (implementation) => resume && !implementation.resumption,
                name: "handshakes",
                sample: async (implementation) => {
                  const sample = await run(implementation, port(implementation), task)
                  const list = resumedCounts[implementation.id] ?? []
                  list.push(sample.resumed)
                  resumedCounts[implementation.id] = list
                  return { [id]: task.count / sample.seconds }
                },
                notes: () => [
                  `${task.count} connections per run (TLS 1.3, ECDSA P-256, ${Credentials.cipherSuite}), each ended once established`,
                  `resumed handshakes per run (warm-up first; -1: not reported): ${JSON.stringify(resumedCounts)}`
                ]
              }
            )
          )
        }
      }
    }

    // The timed cases are over: their processes would only add to the machine's load.
    for (const { home, away } of processes.values()) {
      await stopPeer(home)
      await stopPeer(away)
    }
    processes.clear()

    if (has("memory")) {
      const count = sizes.idleConnections
      const runs: Record<string, Partial<Record<ImplementationId, Array<number>>>> = {
        clientRss: {},
        clientHeap: {},
        serverRss: {},
        serverHeap: {}
      }
      for (const implementation of implementations) {
        if (!measuredIn(implementation, "memory")) continue
        progress.step("memory per idle connection", `${count} connections ${implementation.id}`)
        const server = await startPeer(true)
        const client = await startPeer(true)
        try {
          const { port } = await server.request<{ port: number; handle: number }>({
            op: "serve",
            implementation: implementation.id,
            credentials,
            behaviour: { _tag: "Idle" }
          })
          // Connections held through the measurement, so that lazily loaded
          // code, caches and the code V8 optimizes after a few hundred
          // connections are in the baseline. Held, not closed: a server that
          // is still tearing closed connections down would inflate it.
          const warm = await client.request<number>({
            op: "hold",
            implementation: implementation.id,
            credentials,
            port,
            count: Math.ceil(count / 5)
          })
          const server0 = await server.request<Memory>({ op: "memory" })
          const client0 = await client.request<Memory>({ op: "memory" })
          const held = await client.request<number>({
            op: "hold",
            implementation: implementation.id,
            credentials,
            port,
            count
          })
          const server1 = await server.request<Memory>({ op: "memory" })
          const client1 = await client.request<Memory>({ op: "memory" })
          const perConnection = (after: number, before: number) => (after - before) / count / KiB
          const record = (key: string, value: number) => {
            const perImplementation = runs[key] ?? {}
            perImplementation[implementation.id] = [value]
            runs[key] = perImplementation
          }
          record("clientRss", perConnection(client1.rss, client0.rss))
          record("clientHeap", perConnection(client1.heapUsed, client0.heapUsed))
          record("serverRss", perConnection(server1.rss, server0.rss))
          record("serverHeap", perConnection(server1.heapUsed, server0.heapUsed))
          await client.request({ op: "close", handle: held })
          await client.request({ op: "close", handle: warm })
        } finally {
          await stopPeer(client)
          await stopPeer(server)
        }
      }
      const spec = (id: string, title: string, rss: boolean): Report.MetricSpec => ({
        id,
        title,
        unit: "KiB/conn",
        better: "lower",
        targets: [
          rss
            ? ({ _tag: "Difference", subject: "native", reference: "raw", max: 8 } as const)
            : ({ _tag: "Difference", subject: "native", reference: "floor", max: 1.5 } as const),
          { _tag: "Beats", subject: "native", reference: "effect" }
        ]
      })
      const note = [
        `${count} idle connections over ${Math.ceil(count / 5)} held from before; each side in its own process, after two forced GCs`
      ]
      results.push(
        Report.summarize(spec("idle-client-rss", "idle connection, client RSS", true), runs.clientRss ?? {}, note),
        Report.summarize(spec("idle-client-heap", "idle connection, client heap", false), runs.clientHeap ?? {}, note),
        Report.summarize(spec("idle-server-rss", "idle connection, server RSS", true), runs.serverRss ?? {}, note),
        Report.summarize(spec("idle-server-heap", "idle connection, server heap", false), runs.serverHeap ?? {}, note)
      )
    }

    if (has("flood")) {
      const runs: Record<string, Partial<Record<ImplementationId, Array<number>>>> = { rss: {}, buffers: {}, taken: {} }
      const server = await Drivers.serve(Implementations.raw, credentials, {
        _tag: "Flood",
        bytes: sizes.floodBytes,
        chunkSize: sizes.chunkSize
      })
      try {
        for (const implementation of implementations) {
          if (!measuredIn(implementation, "flood")) continue
          progress.step("flood", `${sizes.floodSeconds}s ${implementation.id}`)
          const client = await startPeer(true)
          try {
            const before = await client.request<Memory>({ op: "memory" })
            const written0 = server.written()
            const held = await client.request<number>({
              op: "hold",
              implementation: implementation.id,
              credentials,
              port: server.port,
              count: 1
            })
            let maxRss = before.rss
            let maxBuffers = before.arrayBuffers
            const deadline = performance.now() + sizes.floodSeconds * 1000
            // Sampled every 100 ms for a fixed time: the flood never ends by itself.
            while (performance.now() < deadline) {
              await new Promise((resolve) => setTimeout(resolve, 100))
              const now = await client.request<Memory>({ op: "memory" })
              maxRss = Math.max(maxRss, now.rss)
              maxBuffers = Math.max(maxBuffers, now.arrayBuffers)
            }
            const set = (key: string, value: number) => {
              const perImplementation = runs[key] ?? {}
              perImplementation[implementation.id] = [value]
              runs[key] = perImplementation
            }
            set("rss", (maxRss - before.rss) / KiB)
            set("buffers", (maxBuffers - before.arrayBuffers) / KiB)
            set("taken", (server.written() - written0) / KiB)
            await client.request({ op: "close", handle: held })
          } finally {
            await stopPeer(client)
          }
        }
      } finally {
        await server.close()
      }
      const note = [
        `the peer (raw node:tls) writes up to ${sizes.floodBytes} bytes for ${sizes.floodSeconds}s while the client reads nothing; growth is the peak over the process's figure before connecting`
      ]
      results.push(
        Report.summarize(
          {
            id: "flood-rss",
            title: "flood, client RSS growth",
            unit: "KiB",
            better: "lower",
            targets: [{ _tag: "Beats", subject: "native", reference: "effect" }]
          },
          runs.rss ?? {},
          note
        ),
        Report.summarize(
          {
            id: "flood-buffers",
            title: "flood, client buffer growth",
            unit: "KiB",
            better: "lower",
            targets: [
              { _tag: "AtMost", subject: "native", max: 1024 },
              { _tag: "AtMost", subject: "duplex", max: 1024 }
            ]
          },
          runs.buffers ?? {},
          note
        ),
        Report.summarize(
          { id: "flood-taken", title: "flood, bytes the peer got rid of", unit: "KiB", better: "lower", targets: [] },
          runs.taken ?? {},
          note
        )
      )
    }
  } finally {
    for (const peer of [...peers]) await stopPeer(peer)
    progress.finish()
  }

  const document = {
    mode,
    startedAt: started.toISOString(),
    commit: currentCommit(),
    seconds: (Date.now() - started.getTime()) / 1000,
    environment: Report.environment(),
    runtime: runtime === undefined ? undefined : { id: runtime.id, version: Runtimes.versionOf(runtime) },
    sizes,
    implementations: implementations.map(({ id, label }) => ({ id, label })),
    results
  }
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`)
  const env = document.environment
  process.stdout.write(
    `effect-tls bench (${mode}), ` +
      (document.runtime === undefined
        ? `Node ${env.node}, OpenSSL ${env.openssl}`
        : `workers on ${document.runtime.id} ${document.runtime.version} (the parent on Node ${env.node})`) +
      `, ${env.cpu} x${env.cores}\n` +
      `${implementations.map(({ id, label }) => `${id}: ${label}`).join(", ")}\n\n` +
      `${Report.table(results, ids)}\n\nJSON: ${out}\n`
  )
}

/** The checked-out commit, for the README's table; `unknown` outside a git checkout. */
const currentCommit = (): string => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"]
    }).trim()
  } catch {
    return "unknown"
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
