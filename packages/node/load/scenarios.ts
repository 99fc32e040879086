/**
 * The load scenarios of the reliability suite (issue 8): interruption at
 * scale, churn, overload and graceful shutdown under load. Each takes its
 * size as parameters and returns its figures and the problems it found (an
 * empty list is a pass), so the test suite runs them small and the load
 * runner (`pnpm load --case=... --scale=...`) runs them large.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import {
  activeResources,
  echo,
  fixture,
  processListeners,
  random,
  resourceGrowth,
  slope,
  steadyEcho,
  streamSlice
} from "../test/reliability-support.ts"

/** What a scenario measured and what it found wrong. */
export interface Report {
  readonly figures: Readonly<Record<string, number | string>>
  readonly problems: ReadonlyArray<string>
}

// -----------------------------------------------------------------------------
// shared
// -----------------------------------------------------------------------------

/**
 * Waits until no resource kind is above the baseline, at most `millis`, and
 * returns what is still above.
 *
 * Why not `settleResources` alone: `Effect.sleep` resumes its fiber inside the
 * timer's own callback, and Node counts a timer in
 * `process.getActiveResourcesInfo()` until its callback returns, so a check
 * that runs right after a sleep always sees that sleep's own `Timeout` (under
 * vitest the test's timeout timer is in the baseline and hides it; in the
 * runner the baseline has no timer). Each sample is taken after
 * `Effect.yieldNow`, which resumes from a `setImmediate` callback, where no
 * timer of ours is running and an immediate does not count itself.
 */
const settled = (baseline: ReturnType<typeof activeResources>, millis: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    yield* Effect.yieldNow
    let grown = resourceGrowth(baseline)
    for (let i = 0; i < 1_000 && grown.length > 0 && Date.now() < deadline; i++) {
      // Handles close a tick or two after `destroy` and Node has no "all closed" event: poll.
      yield* Effect.sleep(10)
      yield* Effect.yieldNow
      grown = resourceGrowth(baseline)
    }
    return grown
  })

/** Checks at the end of a scenario: nothing above the resource and listener baselines. */
const leftovers = (baseline: ReturnType<typeof activeResources>, listeners: number, problems: Array<string>) =>
  Effect.gen(function* () {
    const left = yield* settled(baseline, 3_000)
    if (left.length > 0) problems.push(`resources left: ${left.join(", ")}`)
    if (processListeners() > listeners) problems.push(`process listeners ${listeners} -> ${processListeners()}`)
  })

/** Waits until the server serves no connection, at most `millis` (its count has no change event). */
const drained = (server: NodeTlsServer.Server, millis: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      if ((yield* server.connections) === 0) return 0
      yield* Effect.sleep(10)
    }
    return yield* server.connections
  })

/** One side's byte accounting in a two-way transfer. */
interface Flow {
  /** Bytes of our stream that a completed write accepted. */
  sent: number
  /** Bytes of the peer's stream received, checked. */
  received: number
  mismatches: number
  /** Interruptions of the reader and of the writer. */
  interrupts: number
}

/**
 * Writes `total` bytes of stream `sendSeed` and reads the peer's stream
 * `expectSeed` to its end, while a controller interrupts the reader or the
 * writer at seeded random moments, `interrupts` times, and starts it again.
 * A write counts only when it completed (atomic: whole or nothing), a read
 * only when it returned; the restarted writer resumes from what was accepted.
 */
const interruptedTransfer = (
  connection: TlsConnection.TlsConnection,
  options: {
    readonly total: number
    readonly sendSeed: number
    readonly expectSeed: number
    readonly seed: number
    readonly interrupts: number
  }
) =>
  Effect.gen(function* () {
    const next = random(options.seed)
    const flow: Flow = { sent: 0, received: 0, mismatches: 0, interrupts: 0 }
    const writer = Effect.gen(function* () {
      for (let i = 0; i < 1_000_000 && flow.sent < options.total; i++) {
        const length = Math.min(options.total - flow.sent, 1 + Math.floor(next() * 6000))
        const chunk = streamSlice(options.sendSeed, flow.sent, length)
        yield* connection.writer.write(chunk).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) flow.sent += length
            })
          )
        )
      }
      yield* connection.writer.end
    })
    const reader = Effect.gen(function* () {
      for (let i = 0; i < 1_000_000; i++) {
        const chunk = yield* connection.reader.read.pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (!Exit.isSuccess(exit) || Option.isNone(exit.value)) return
              const bytes = exit.value.value
              const expected = streamSlice(options.expectSeed, flow.received, bytes.length)
              if (!Buffer.from(bytes).equals(expected)) flow.mismatches++
              flow.received += bytes.length
            })
          )
        )
        if (Option.isNone(chunk)) return
      }
    })
    let readerFiber = yield* Effect.forkChild(reader)
    let writerFiber = yield* Effect.forkChild(writer)
    for (let k = 0; k < options.interrupts; k++) {
      yield* Effect.sleep(Math.floor(next() * 4))
      if (next() < 0.5) {
        if (readerFiber.pollUnsafe() !== undefined) continue
        yield* Fiber.interrupt(readerFiber)
        flow.interrupts++
        readerFiber = yield* Effect.forkChild(reader)
      } else {
        if (writerFiber.pollUnsafe() !== undefined) continue
        yield* Fiber.interrupt(writerFiber)
        flow.interrupts++
        writerFiber = yield* Effect.forkChild(writer)
      }
    }
    yield* Fiber.join(writerFiber)
    yield* Fiber.join(readerFiber)
    return flow
  })

// -----------------------------------------------------------------------------
// 1. interruption at scale
// -----------------------------------------------------------------------------

/**
 * `connections` TLS connections (at most `concurrency` at once), each moving
 * `bytes` both ways while readers and writers on both ends are interrupted
 * and restarted at seeded random moments. Every byte a completed write
 * accepted must arrive exactly once and in order; afterwards nothing is open.
 */
export const interruptAtScale = (options: {
  readonly connections: number
  readonly concurrency: number
  readonly bytes: number
  readonly interrupts: number
  readonly seed: number
  readonly path: TlsOptions.Path
}): Effect.Effect<Report, TlsError> =>
  Effect.gen(function* () {
    const baseline = activeResources()
    const listeners = processListeners()
    const problems: Array<string> = []
    const started = Date.now()
    const certs = yield* Effect.orDie(fixture)
    const totals = { bytes: 0, interrupts: 0, mismatches: 0, failed: 0 }
    const serverFlows = new Map<number, Flow>()
    yield* Effect.scoped(
      Effect.gen(function* () {
        const server = yield* NodeTls.serve(
          { ...certs.server, path: options.path, maxConnections: options.concurrency + 16 },
          (connection) =>
            Effect.gen(function* () {
              // The client announces its index first, so the server side knows the streams.
              const id = (yield* connection.reader.readExactly(4)).reduce((n, b) => n * 256 + b, 0)
              const flow = yield* interruptedTransfer(connection, {
                total: options.bytes,
                sendSeed: 2 * id + 1,
                expectSeed: 2 * id,
                seed: options.seed * 7919 + id,
                interrupts: options.interrupts
              })
              serverFlows.set(id, flow)
            })
        )
        const client = yield* NodeTlsClient.make({ ...certs.client, path: options.path })
        yield* Effect.forEach(
          Array.from({ length: options.connections }, (_, i) => i),
          (id) =>
            Effect.scoped(
              Effect.gen(function* () {
                const connection = yield* client.connect({ host: "127.0.0.1", port: server.address.port })
                yield* connection.writer.write(Uint8Array.of(id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255))
                const flow = yield* interruptedTransfer(connection, {
                  total: options.bytes,
                  sendSeed: 2 * id,
                  expectSeed: 2 * id + 1,
                  seed: options.seed * 104729 + id,
                  interrupts: options.interrupts
                })
                if (flow.sent !== options.bytes || flow.received !== options.bytes) {
                  problems.push(`connection ${id}: client sent ${flow.sent}, received ${flow.received}`)
                }
                totals.bytes += flow.received
                totals.interrupts += flow.interrupts
                totals.mismatches += flow.mismatches
              })
            ).pipe(
              Effect.catchCause((cause) =>
                Effect.sync(() => {
                  totals.failed++
                  if (totals.failed <= 5) problems.push(`connection ${id} failed: ${cause}`)
                })
              )
            ),
          { concurrency: options.concurrency, discard: true }
        )
        const open = yield* drained(server, 5_000)
        if (open !== 0) problems.push(`${open} server connections still open`)
      })
    )
    for (const [id, flow] of serverFlows) {
      if (flow.received !== options.bytes) problems.push(`connection ${id}: server received ${flow.received}`)
      totals.bytes += flow.received
      totals.interrupts += flow.interrupts
      totals.mismatches += flow.mismatches
    }
    if (serverFlows.size !== options.connections) {
      problems.push(`${serverFlows.size} of ${options.connections} server sides completed`)
    }
    if (totals.mismatches > 0) problems.push(`${totals.mismatches} chunks out of order, lost or duplicated`)
    if (totals.failed > 0) problems.push(`${totals.failed} connections failed`)
    yield* leftovers(baseline, listeners, problems)
    return {
      figures: {
        path: options.path,
        connections: options.connections,
        bytesDelivered: totals.bytes,
        interrupts: totals.interrupts,
        durationMs: Date.now() - started
      },
      problems
    }
  })

// -----------------------------------------------------------------------------
// 5. churn
// -----------------------------------------------------------------------------

/** A full collection, when the runtime allows one (flags set once, then `gc` from a fresh context). */
const collect: () => void = (() => {
  let gc: (() => void) | undefined
  return () => {
    if (gc === undefined) {
      v8.setFlagsFromString("--expose-gc")
      gc = vm.runInNewContext("gc") as () => void
    }
    gc()
  }
})()

/**
 * `cycles` of connect, 4 KiB echo, close, alternating a resuming client (its
 * session cache) and a client without one (full handshakes). After
 * `warmup` cycles, heap and RSS are sampled (after a full collection) every
 * `every` cycles; the slopes are in bytes per cycle.
 */
export const churn = (options: {
  readonly cycles: number
  readonly warmup: number
  readonly every: number
  readonly path: TlsOptions.Path
}): Effect.Effect<Report, TlsError> =>
  Effect.gen(function* () {
    const baseline = activeResources()
    const listeners = processListeners()
    const problems: Array<string> = []
    const started = Date.now()
    const certs = yield* Effect.orDie(fixture)
    const samples = {
      cycle: [] as Array<number>,
      heap: [] as Array<number>,
      external: [] as Array<number>,
      rss: [] as Array<number>
    }
    const counts = { resumed: 0, full: 0, failed: 0 }
    const payload = streamSlice(5, 0, 4096)
    yield* Effect.scoped(
      Effect.gen(function* () {
        const server = yield* NodeTls.serve({ ...certs.server, path: options.path }, echo)
        const resuming = yield* NodeTlsClient.make({ ...certs.client, path: options.path })
        const full = yield* NodeTlsClient.make({ ...certs.client, path: options.path, sessionCache: false })
        const target = { host: "127.0.0.1", port: server.address.port }
        for (let cycle = 0; cycle < options.cycles; cycle++) {
          const client = cycle % 2 === 0 ? resuming : full
          const exit = yield* Effect.exit(
            Effect.scoped(
              Effect.gen(function* () {
                const connection = yield* client.connect(target)
                yield* connection.writer.write(payload)
                const back = yield* connection.reader.readExactly(payload.length)
                if (!Buffer.from(back).equals(payload)) problems.push(`cycle ${cycle}: echo differs`)
                if (connection.session.resumed) counts.resumed++
                else counts.full++
              })
            )
          )
          if (Exit.isFailure(exit)) {
            counts.failed++
            if (counts.failed <= 5) problems.push(`cycle ${cycle} failed: ${exit.cause}`)
          }
          if (cycle >= options.warmup && (cycle - options.warmup) % options.every === 0) {
            collect()
            const memory = process.memoryUsage()
            samples.cycle.push(cycle)
            samples.heap.push(memory.heapUsed)
            // Buffers and native objects Node accounts for: not in the heap, but in RSS.
            samples.external.push(memory.external)
            samples.rss.push(memory.rss)
          }
        }
        const open = yield* drained(server, 3_000)
        if (open !== 0) problems.push(`${open} server connections still open`)
      })
    )
    if (counts.failed > 0) problems.push(`${counts.failed} cycles failed`)
    // Half the cycles use the resuming client; its first handshake is full.
    if (counts.resumed < Math.floor(options.cycles / 2) - 1) problems.push(`only ${counts.resumed} handshakes resumed`)
    yield* leftovers(baseline, listeners, problems)
    const heapSlope = slope(samples.cycle, samples.heap)
    const rssSlope = slope(samples.cycle, samples.rss)
    return {
      figures: {
        path: options.path,
        cycles: options.cycles,
        resumed: counts.resumed,
        full: counts.full,
        samples: samples.cycle.length,
        heapSlopeBytesPerCycle: Math.round(heapSlope),
        externalSlopeBytesPerCycle: Math.round(slope(samples.cycle, samples.external)),
        rssSlopeBytesPerCycle: Math.round(rssSlope),
        heapMiB: Math.round((samples.heap.at(-1) ?? 0) / 2 ** 20),
        rssMiB: Math.round((samples.rss.at(-1) ?? 0) / 2 ** 20),
        durationMs: Date.now() - started
      },
      problems
    }
  })

// -----------------------------------------------------------------------------
// 6. overload
// -----------------------------------------------------------------------------

/**
 * A server with `maxConnections` = `admitted`, full of clients doing steady
 * echo; then `excess` more clients try. As documented ("more are refused at
 * accept"), each excess client must fail with a typed error within the bound,
 * the admitted ones must see no error and keep going, and once one admitted
 * client leaves, a new one is served.
 */
export const overload = (options: {
  readonly admitted: number
  readonly excess: number
  readonly path: TlsOptions.Path
}): Effect.Effect<Report, TlsError> =>
  Effect.gen(function* () {
    const baseline = activeResources()
    const listeners = processListeners()
    const problems: Array<string> = []
    const started = Date.now()
    const certs = yield* Effect.orDie(fixture)
    const refusals: Record<string, number> = {}
    let slowestRefusalMs = 0
    let roundTrips = 0
    yield* Effect.scoped(
      Effect.gen(function* () {
        const server = yield* NodeTls.serve(
          { ...certs.server, path: options.path, maxConnections: options.admitted, shutdownTimeout: "200 millis" },
          echo
        )
        const client = yield* NodeTlsClient.make({
          ...certs.client,
          path: options.path,
          connection: { handshakeTimeout: "3 seconds" }
        })
        const target = { host: "127.0.0.1", port: server.address.port }
        const first = yield* Scope.make()
        const rest = yield* Effect.scope
        const steadies = yield* Effect.forEach(
          Array.from({ length: options.admitted }, (_, i) => i),
          (i) => steadyEcho(client.connect(target), 20).pipe(Scope.provide(i === 0 ? first : rest)),
          { concurrency: 16 }
        ).pipe(Effect.orDie)
        const admittedNow = yield* server.connections
        if (admittedNow !== options.admitted) problems.push(`${admittedNow} admitted, not ${options.admitted}`)
        const before = steadies.map((s) => s.roundTrips())
        yield* Effect.forEach(
          Array.from({ length: options.excess }, (_, i) => i),
          () =>
            Effect.gen(function* () {
              const t0 = Date.now()
              const exit = yield* Effect.exit(Effect.scoped(client.connect(target)))
              const took = Date.now() - t0
              slowestRefusalMs = Math.max(slowestRefusalMs, took)
              const key = Exit.isSuccess(exit)
                ? "admitted"
                : Option.match(Exit.findErrorOption(exit), {
                    onNone: () => "defect",
                    onSome: (error: TlsError) => `${error._tag}/${error.reason._tag}`
                  })
              refusals[key] = (refusals[key] ?? 0) + 1
            }),
          { concurrency: 32, discard: true }
        )
        if ((refusals.admitted ?? 0) > 0) problems.push(`${refusals.admitted} excess clients were admitted`)
        if ((refusals.defect ?? 0) > 0) problems.push(`${refusals.defect} excess clients died`)
        if (slowestRefusalMs > 2_000) problems.push(`a refusal took ${slowestRefusalMs} ms`)
        // The admitted clients went on: no failure, and each made progress meanwhile or right after.
        yield* Effect.sleep(100)
        steadies.forEach((s, i) => {
          if (s.failure() !== undefined) problems.push(`admitted client ${i} failed: ${s.failure()}`)
          else if (s.roundTrips() <= (before[i] ?? 0)) problems.push(`admitted client ${i} made no progress`)
        })
        roundTrips = steadies.reduce((sum, s) => sum + s.roundTrips(), 0)
        // Capacity comes back when an admitted client leaves.
        yield* Scope.close(first, Exit.void)
        const deadline = Date.now() + 2_000
        let again: Exit.Exit<unknown, TlsError> = Exit.void
        for (let i = 0; i < 50 && Date.now() < deadline; i++) {
          again = yield* Effect.exit(Effect.scoped(Effect.flatMap(client.connect(target), (c) => c.writer.write("x"))))
          if (Exit.isSuccess(again)) break
          yield* Effect.sleep(20)
        }
        if (Exit.isFailure(again)) problems.push(`no client admitted after one left: ${again.cause}`)
      })
    )
    yield* leftovers(baseline, listeners, problems)
    return {
      figures: {
        path: options.path,
        admitted: options.admitted,
        excess: options.excess,
        refusals: JSON.stringify(refusals),
        slowestRefusalMs,
        admittedRoundTrips: roundTrips,
        durationMs: Date.now() - started
      },
      problems
    }
  })

// -----------------------------------------------------------------------------
// 7. graceful shutdown under load
// -----------------------------------------------------------------------------

/**
 * `connections` clients receive a stream from the server (each handler
 * writes until it is stopped); `stalled` of them stop reading after the
 * first bytes. Once every active client has received some data, the server's
 * scope is closed. Every handler runs until the shutdown deadline, then each
 * connection closes: the active ones with close_notify after everything the
 * handler's completed writes accepted (the client reads exactly that, then a
 * clean end), the stalled ones by the documented forced close after the
 * connection's close timeout. Afterwards nothing is left.
 */
export const shutdown = (options: {
  readonly connections: number
  readonly stalled: number
  readonly shutdownMs: number
  readonly closeMs: number
  readonly path: TlsOptions.Path
}): Effect.Effect<Report, TlsError> =>
  Effect.gen(function* () {
    const baseline = activeResources()
    const listeners = processListeners()
    const problems: Array<string> = []
    const started = Date.now()
    const certs = yield* Effect.orDie(fixture)
    const written = new Map<number, number>()
    const closings: Array<{ readonly id: number; readonly closed: Effect.Effect<unknown> }> = []
    const serverScope = yield* Scope.make()
    // Handlers start writing once every client is connected, so connecting does not compete with the flood.
    const go = yield* Deferred.make<void>()
    const server = yield* NodeTls.serve(
      {
        ...certs.server,
        path: options.path,
        maxConnections: options.connections + 16,
        shutdownTimeout: `${options.shutdownMs} millis`,
        connection: { closeTimeout: `${options.closeMs} millis` }
      },
      (connection) =>
        Effect.gen(function* () {
          const id = (yield* connection.reader.readExactly(4)).reduce((n, b) => n * 256 + b, 0)
          closings.push({ id, closed: connection.closed })
          written.set(id, 0)
          yield* Deferred.await(go)
          for (let i = 0; i < 10_000_000; i++) {
            const chunk = streamSlice(id, written.get(id) ?? 0, 16 * 1024)
            yield* connection.writer.write(chunk).pipe(
              Effect.onExit((exit) =>
                Effect.sync(() => {
                  if (Exit.isSuccess(exit)) written.set(id, (written.get(id) ?? 0) + chunk.length)
                })
              )
            )
          }
        })
    ).pipe(Scope.provide(serverScope), Effect.orDie)
    const client = yield* NodeTlsClient.make({
      ...certs.client,
      path: options.path,
      connection: { closeTimeout: `${options.closeMs} millis` }
    }).pipe(Effect.orDie)
    const target = { host: "127.0.0.1", port: server.address.port }
    const results = new Map<number, { received: number; mismatches: number; end: string }>()
    const clientScope = yield* Scope.make()
    // Every active client completes this once it has received `WARM` bytes: then all transfers run.
    const active = options.connections - options.stalled
    const warm = yield* Deferred.make<void>()
    let warmed = 0
    const WARM = 64 * 1024
    const readers = yield* Effect.forEach(
      Array.from({ length: options.connections }, (_, id) => id),
      (id) =>
        Effect.gen(function* () {
          const connection = yield* client.connect(target).pipe(Scope.provide(clientScope), Effect.orDie)
          yield* connection.writer.write(Uint8Array.of(id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255))
          const result = { received: 0, mismatches: 0, end: "running" }
          results.set(id, result)
          // The stalled clients never read: the server's writes to them block once the socket buffers are full.
          if (id < options.stalled) return undefined
          return yield* Effect.forkIn(
            Effect.gen(function* () {
              for (let i = 0; i < 10_000_000; i++) {
                const chunk = yield* connection.reader.read
                if (Option.isNone(chunk)) {
                  result.end = "close_notify"
                  return
                }
                if (!Buffer.from(chunk.value).equals(streamSlice(id, result.received, chunk.value.length))) {
                  result.mismatches++
                }
                const before = result.received
                result.received += chunk.value.length
                if (before < WARM && result.received >= WARM && ++warmed === active)
                  Deferred.doneUnsafe(warm, Exit.void)
              }
            }).pipe(
              Effect.catch((error: TlsError) =>
                Effect.sync(() => {
                  result.end = `${error._tag}/${error.reason._tag}`
                })
              )
            ),
            clientScope
          )
        }),
      { concurrency: 16 }
    ).pipe(Effect.map((fibers) => fibers.filter((fiber) => fiber !== undefined)))
    const connectedMs = Date.now() - started
    Deferred.doneUnsafe(go, Exit.void)
    if (Option.isNone(yield* Deferred.await(warm).pipe(Effect.timeoutOption(10_000)))) {
      problems.push(`only ${warmed} of ${active} clients received ${WARM} bytes within 10 s`)
    }
    const warmMs = Date.now() - started - connectedMs
    // The stalled connections' writes block once their socket buffers are full: wait until what the
    // handlers wrote to them stops growing (no event says so; checked every 50 ms, at most 10 s).
    const stalledWritten = () => {
      let sum = 0
      for (let id = 0; id < options.stalled; id++) sum += written.get(id) ?? 0
      return sum
    }
    let still = 0
    for (let i = 0, last = -1; i < 200 && still < 3 && options.stalled > 0; i++) {
      yield* Effect.sleep(50)
      const now = stalledWritten()
      still = now === last ? still + 1 : 0
      last = now
    }
    if (options.stalled > 0 && still < 3) problems.push("the writes to the stalled clients never blocked")
    const t0 = Date.now()
    const transferMs = t0 - started - connectedMs
    // When each connection's close ended, to report how long the active ones took to drain.
    const closedAt = new Map<number, number>()
    for (const { id, closed } of closings) {
      yield* Effect.forkChild(
        Effect.andThen(
          closed,
          Effect.sync(() => closedAt.set(id, Date.now()))
        )
      )
    }
    yield* Scope.close(serverScope, Exit.void)
    const shutdownMs = Date.now() - t0
    // The active readers end with the close_notify that the shutdown sent.
    const joined = yield* Effect.forEach(readers, Fiber.join, { discard: true }).pipe(
      Effect.timeoutOption(options.closeMs + 3_000)
    )
    if (Option.isNone(joined)) problems.push("some clients did not see their connection end")
    const outcomes: Record<string, number> = {}
    let bytes = 0
    for (const { id, closed } of closings) {
      const outcome = (yield* closed) as {
        readonly _tag: string
        readonly closeNotifySent?: boolean
        readonly detail?: string
      }
      const stalled = id < options.stalled
      const key = `${outcome._tag}${outcome.closeNotifySent === true ? "+close_notify" : ""}`
      outcomes[key] = (outcomes[key] ?? 0) + 1
      const result = results.get(id)
      if (result === undefined) continue
      bytes += result.received
      if (result.mismatches > 0) problems.push(`connection ${id}: bytes out of order or altered`)
      if (stalled) {
        // Its close_notify cannot go out: the documented forced close after the close timeout.
        if (outcome._tag !== "Forced") problems.push(`stalled connection ${id} ended ${key}`)
        continue
      }
      if (key !== "Clean+close_notify") {
        problems.push(`connection ${id} ended ${key}${outcome.detail === undefined ? "" : ` (${outcome.detail})`}`)
      }
      if (result.end !== "close_notify") problems.push(`client ${id} ended with ${result.end}`)
      if (result.received !== written.get(id)) {
        problems.push(`connection ${id}: server's completed writes ${written.get(id)}, client got ${result.received}`)
      }
    }
    if (closings.length !== options.connections) problems.push(`${closings.length} connections served`)
    // The handlers never end on their own: the shutdown waits the deadline, then (with stalled
    // peers) the close timeout of their graceful close.
    const floor = options.shutdownMs + (options.stalled > 0 ? options.closeMs : 0) - 20
    if (shutdownMs < floor) problems.push(`shutdown took ${shutdownMs} ms, less than ${floor}`)
    const bound = options.shutdownMs + options.closeMs + 2_000
    if (shutdownMs > bound) problems.push(`shutdown took ${shutdownMs} ms > ${bound}`)
    yield* Scope.close(clientScope, Exit.void)
    yield* leftovers(baseline, listeners, problems)
    return {
      figures: {
        path: options.path,
        connections: options.connections,
        stalled: options.stalled,
        outcomes: JSON.stringify(outcomes),
        bytesDelivered: bytes,
        connectedMs,
        warmMs,
        transferMs,
        slowestActiveCloseMs: Math.max(
          0,
          ...closings.filter(({ id }) => id >= options.stalled).map(({ id }) => (closedAt.get(id) ?? t0) - t0)
        ),
        shutdownMs,
        durationMs: Date.now() - started
      },
      problems
    }
  })
