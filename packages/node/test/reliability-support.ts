/**
 * Shared machinery of the reliability suite (issue 8) and of its load runner
 * (`pnpm load`): certificates, a server whose per-connection failures are
 * observed (from its debug log and its metrics), raw TCP clients that send
 * crafted bytes, a steady echo client, TLS records to inject (through the
 * test kit's `Relay`), resource baselines, seeded randomness and a linear
 * regression.
 *
 * Nothing here imports vitest, so the load runner can use it as is.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import { isTlsError, type TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"

// -----------------------------------------------------------------------------
// certificates
// -----------------------------------------------------------------------------

/** Server credentials and matching client trust from a fresh test PKI (P-256, `localhost`). */
export interface Fixture {
  readonly server: { readonly credentials: ReadonlyArray<TlsOptions.Credential> }
  readonly client: { readonly ca: string; readonly servername: string }
  /** PEM material for raw `node:tls` peers. */
  readonly raw: { readonly key: string; readonly cert: string; readonly ca: string }
}

export const fixture: Effect.Effect<Fixture, CertificateAuthority.CertificateAuthorityError> = Effect.gen(function* () {
  const pki = yield* CertificateAuthority.make()
  const issued = yield* pki.issueServer()
  return {
    server: { credentials: [{ cert: issued.chain, key: issued.redactedKey }] },
    client: { ca: pki.root, servername: "localhost" },
    raw: { key: issued.key, cert: issued.chain, ca: pki.root }
  }
})

// -----------------------------------------------------------------------------
// an observed server
// -----------------------------------------------------------------------------

/** A running server and what it reported about its failed connections. */
export interface Observed {
  readonly server: NodeTlsServer.Server
  readonly port: number
  /** The next connection failure the server logged (its typed error), within `millis`; `None` if none came. */
  readonly nextFailure: (millis: number) => Effect.Effect<Option.Option<TlsError>>
  /** Failures logged so far that nobody took with `nextFailure`. */
  readonly pending: Effect.Effect<number>
  /** `tls_errors_total` of this server, by `kind/reason`. */
  readonly errorCounts: Effect.Effect<Readonly<Record<string, number>>>
}

/**
 * `NodeTls.serve` with its debug log captured: the server logs each
 * connection that ended with a failure at debug level, with the cause, and
 * the core counts it in `tls_errors_total`. The server gets its own metric
 * registry, so the counts are this server's alone.
 */
export const observedServer = <E, R>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection) => Effect.Effect<void, E, R>
): Effect.Effect<Observed, TlsError, Scope.Scope | R> =>
  Effect.gen(function* () {
    const failures = yield* Queue.unbounded<TlsError>()
    const logger = Logger.make((entry) => {
      for (const reason of entry.cause.reasons) {
        if (reason._tag === "Fail" && isTlsError(reason.error)) Queue.offerUnsafe(failures, reason.error)
      }
    })
    const registry = new Map()
    const server = yield* NodeTls.serve(options, handler).pipe(
      Effect.provideService(References.MinimumLogLevel, "Debug"),
      Effect.provideService(Logger.CurrentLoggers, new Set([logger])),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    const errorCounts = Effect.map(
      Metric.snapshot.pipe(Effect.provideService(Metric.MetricRegistry, registry)),
      (snapshots) => {
        const counts: Record<string, number> = {}
        for (const snapshot of snapshots) {
          if (snapshot.id !== "tls_errors_total") continue
          const attributes = (snapshot.attributes ?? {}) as Record<string, unknown>
          const state = snapshot.state as { readonly count: number | bigint }
          counts[`${String(attributes.kind)}/${String(attributes.reason)}`] = Number(state.count)
        }
        return counts
      }
    )
    return {
      server,
      port: server.address.port,
      nextFailure: (millis) => Queue.take(failures).pipe(Effect.timeoutOption(millis)),
      pending: Queue.size(failures),
      errorCounts
    }
  })

/** A handler that echoes every chunk until the peer's close_notify. */
export const echo = (connection: TlsConnection.TlsConnection): Effect.Effect<void, TlsError> =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000_000; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) return
      yield* connection.writer.write(chunk.value)
    }
  })

// -----------------------------------------------------------------------------
// raw TCP clients
// -----------------------------------------------------------------------------

/** How a raw client's connection ended, seen from the client. */
export interface RawResult {
  /** From connect to the socket's close. */
  readonly closedAfterMs: number
  /** `closed`: the server closed it (FIN or reset); `bound`: the client gave up at its bound. */
  readonly ended: "closed" | "bound"
  readonly bytesReceived: number
  readonly errorCode: string | undefined
}

/**
 * Connects to 127.0.0.1:`port`, runs `script` on the connected socket (it
 * returns a cleanup, e.g. to clear its timers), and waits for the socket to
 * close, at most `boundMs`; at the bound the client destroys it.
 */
export const rawClient = (
  port: number,
  script: (socket: net.Socket) => () => void,
  boundMs: number
): Effect.Effect<RawResult> =>
  Effect.callback<RawResult>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    let started = Date.now()
    let bytesReceived = 0
    let errorCode: string | undefined
    let cleanup = () => {}
    let ended: RawResult["ended"] = "closed"
    const timer = setTimeout(() => {
      ended = "bound"
      socket.destroy()
    }, boundMs)
    socket.on("connect", () => {
      started = Date.now()
      cleanup = script(socket)
    })
    socket.on("data", (chunk: Buffer) => {
      bytesReceived += chunk.length
    })
    socket.on("error", (error: Error & { code?: string }) => {
      errorCode = error.code
    })
    socket.on("close", () => {
      clearTimeout(timer)
      cleanup()
      resume(Effect.succeed({ closedAfterMs: Date.now() - started, ended, bytesReceived, errorCode }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      cleanup()
      socket.destroy()
    })
  })

/** Sends `bytes` at once; with `end`, then a FIN. */
export const sendOnce =
  (bytes: Uint8Array, end = false) =>
  (socket: net.Socket): (() => void) => {
    if (end) socket.end(bytes)
    else socket.write(bytes)
    return () => {}
  }

/** Sends one byte of `bytes` every `everyMs` milliseconds. */
export const trickle =
  (bytes: Uint8Array, everyMs: number) =>
  (socket: net.Socket): (() => void) => {
    let at = 0
    const timer = setInterval(() => {
      if (at >= bytes.length || socket.destroyed) {
        clearInterval(timer)
        return
      }
      socket.write(bytes.subarray(at, at + 1))
      at++
    }, everyMs)
    return () => clearInterval(timer)
  }

/** Sends nothing. */
export const silent = (): (() => void) => () => {}

/**
 * A genuine ClientHello (one record, as Node 24 sends it to `localhost`),
 * captured from `tls.connect` by a listener that reads one record and closes.
 */
export const captureClientHello: Effect.Effect<Uint8Array> = Effect.callback<Uint8Array>((resume) => {
  let received = Buffer.alloc(0)
  let client: tls.TLSSocket | undefined
  const server = net.createServer((socket) => {
    socket.on("error", () => {})
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length < 5) return
      const length = 5 + received.readUInt16BE(3)
      if (received.length < length) return
      socket.destroy()
      client?.destroy()
      server.close()
      resume(Effect.succeed(new Uint8Array(received.subarray(0, length))))
    })
  })
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    client = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false })
    client.on("error", () => {})
  })
  return Effect.sync(() => {
    client?.destroy()
    server.close()
  })
})

// -----------------------------------------------------------------------------
// steady traffic
// -----------------------------------------------------------------------------

/** A client doing ping-pong: a 64-byte numbered message, its echo checked, every `periodMs`. */
export interface Steady {
  readonly roundTrips: () => number
  /** The error that stopped it, if any. */
  readonly failure: () => unknown
}

/**
 * Runs the ping-pong in a fiber of the current scope over a connection made
 * by `connect` (in that scope). It stops at the first error (kept in
 * `failure`) or when the scope closes.
 */
export const steadyEcho = (
  connect: Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>,
  periodMs: number
): Effect.Effect<Steady, TlsError, Scope.Scope> =>
  Effect.gen(function* () {
    const connection = yield* connect
    const state = { roundTrips: 0, failure: undefined as unknown }
    const ping = Effect.gen(function* () {
      for (let i = 0; i < 1_000_000; i++) {
        const message = Buffer.alloc(64, i & 0xff)
        message.writeUInt32BE(i, 0)
        yield* connection.writer.write(message)
        const answer = yield* connection.reader.readExactly(64)
        if (!Buffer.from(answer).equals(message)) {
          return yield* Effect.die(new Error(`echo ${i} came back altered`))
        }
        state.roundTrips++
        yield* Effect.sleep(periodMs)
      }
    })
    yield* ping.pipe(
      Effect.catchCause((cause) =>
        Effect.sync(() => {
          state.failure = cause
        })
      ),
      Effect.forkScoped
    )
    return { roundTrips: () => state.roundTrips, failure: () => state.failure }
  })

// -----------------------------------------------------------------------------
// records (the relay that edits them is the test kit's `Relay`)
// -----------------------------------------------------------------------------

/** A TLS record: content type, legacy version 0x0303, payload. */
export const record = (contentType: number, payload: Uint8Array): Buffer => {
  const header = Buffer.from([contentType, 0x03, 0x03, (payload.length >> 8) & 0xff, payload.length & 0xff])
  return Buffer.concat([header, payload])
}

// -----------------------------------------------------------------------------
// resources, randomness, statistics
// -----------------------------------------------------------------------------

/** Counts of `process.getActiveResourcesInfo()` by kind. */
export const activeResources = (): Readonly<Record<string, number>> => {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/** Kinds whose count is above the baseline's: `kind: baseline -> now`. */
export const resourceGrowth = (baseline: Readonly<Record<string, number>>): ReadonlyArray<string> => {
  const now = activeResources()
  const grown: Array<string> = []
  for (const [kind, count] of Object.entries(now)) {
    if (count > (baseline[kind] ?? 0)) grown.push(`${kind}: ${baseline[kind] ?? 0} -> ${count}`)
  }
  return grown
}

/**
 * Waits until no resource kind is above the baseline, at most `millis`
 * (handles close a tick or two after `destroy`; Node signals no event for "all
 * closed", so this checks every 10 ms), and returns what is still above.
 */
export const settleResources = (
  baseline: Readonly<Record<string, number>>,
  millis = 2_000
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    let grown = resourceGrowth(baseline)
    for (let i = 0; i < 1_000 && grown.length > 0 && Date.now() < deadline; i++) {
      yield* Effect.sleep(10)
      grown = resourceGrowth(baseline)
    }
    return grown
  })

/** Listener counts on `process` (a library that leaks listeners usually leaks them here). */
export const processListeners = (): number =>
  process.eventNames().reduce((sum, name) => sum + process.listenerCount(name), 0)

/** A seeded pseudo-random generator (mulberry32): floats in [0, 1). */
export const random = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The byte at `offset` of the deterministic stream `seed` (cheap to check at any offset). */
export const streamByte = (seed: number, offset: number): number => (offset * 31 + seed * 17 + (offset >>> 8)) & 0xff

/** The bytes [`from`, `from + length`) of the stream `seed`. */
export const streamSlice = (seed: number, from: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = streamByte(seed, from + i)
  return out
}

/** Least-squares slope of `ys` over `xs`. */
export const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number => {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return 0
  let sx = 0
  let sy = 0
  for (let i = 0; i < n; i++) {
    sx += xs[i] ?? 0
    sy += ys[i] ?? 0
  }
  const mx = sx / n
  const my = sy / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx
    num += dx * ((ys[i] ?? 0) - my)
    den += dx * dx
  }
  return den === 0 ? 0 : num / den
}
