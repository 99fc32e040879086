/**
 * Bad input to the server (issue 8, item 2), on both paths: raw TCP clients
 * on 127.0.0.1 send crafted bytes. Each case must show up as a typed error in
 * the server's log and metrics, its socket must be closed by the server
 * within a bound, and a client doing steady echo traffic meanwhile must see
 * no error and keep going.
 */
import { assert, describe } from "@effect/vitest"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { conclude, onBothPaths } from "./helpers.ts"
import {
  activeResources,
  captureClientHello,
  echo,
  fixture,
  observedServer,
  processListeners,
  type RawResult,
  random,
  rawClient,
  record,
  sendOnce,
  silent,
  steadyEcho,
  trickle
} from "./reliability-support.ts"

/** The server's handshake timeout in these cases: slow peers are dropped at it. */
const HANDSHAKE_MS = 500
/** Bound on a crafted case's socket being closed by the server (fast failures). */
const FAST_CLOSE_MS = 400
/** Bound on a slow case's socket being closed: the handshake timeout plus slack for a loaded machine. */
const SLOW_CLOSE_MS = HANDSHAKE_MS + 700

interface Case {
  readonly name: string
  readonly script: Parameters<typeof rawClient>[1]
  /** The typed errors (tag/reason) the server may report. */
  readonly expect: ReadonlyArray<string>
  /** Whether the drop comes at the handshake timeout. */
  readonly slow?: boolean
}

const cases = (hello: Uint8Array): ReadonlyArray<Case> => {
  const next = random(8)
  const noise = Uint8Array.from({ length: 1024 }, () => Math.floor(next() * 256))
  // A handshake record that announces 0xFFFF bytes: over the 2^14 + 2048 limit of any record.
  const oversized = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), hello.subarray(5)])
  // An SSLv2-framed CLIENT-HELLO (two-byte header with the high bit set, message type 1, version 3.1).
  const sslv2 = Buffer.from([
    0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00,
    0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6,
    0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90
  ])
  return [
    { name: "random bytes", script: sendOnce(noise), expect: ["TlsHandshakeError/NotTls"] },
    {
      name: "an HTTP request",
      script: sendOnce(Buffer.from("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")),
      expect: ["TlsHandshakeError/NotTls"]
    },
    {
      name: "a ClientHello with a record length over the limit",
      script: sendOnce(oversized),
      expect: ["TlsHandshakeError/Other"]
    },
    {
      name: "a truncated ClientHello, then FIN",
      script: sendOnce(hello.subarray(0, Math.floor(hello.length / 2)), true),
      expect: ["TlsTransportError/ConnectionReset"]
    },
    {
      name: "a truncated ClientHello, then nothing",
      script: sendOnce(hello.subarray(0, Math.floor(hello.length / 2))),
      expect: ["TlsHandshakeError/Timeout"],
      slow: true
    },
    { name: "an SSLv2 header", script: sendOnce(sslv2), expect: ["TlsHandshakeError/ProtocolVersion"] },
    {
      name: "a ClientHello sent twice",
      script: sendOnce(Buffer.concat([hello, hello])),
      expect: ["TlsHandshakeError/Other"]
    },
    {
      name: "application data before the handshake",
      script: sendOnce(record(0x17, Buffer.from("GET / HTTP/1.1\r\n\r\n"))),
      expect: ["TlsHandshakeError/Other"]
    },
    {
      name: "slowloris: connects and sends nothing",
      script: silent,
      expect: ["TlsHandshakeError/Timeout"],
      slow: true
    },
    {
      // One byte every 100 ms (not every second: the handshake timeout is scaled down, and a byte
      // arriving must not restart it).
      name: "one byte at a time",
      script: trickle(hello, 100),
      expect: ["TlsHandshakeError/Timeout"],
      slow: true
    }
  ]
}

const describeError = (error: TlsError) => `${error._tag}/${error.reason._tag}`

const abuse = (path: TlsOptions.Path) =>
  Effect.gen(function* () {
    const resources = activeResources()
    const listeners = processListeners()
    const certs = yield* fixture
    const hello = yield* captureClientHello
    const report: Array<string> = []
    const problems: Array<string> = []
    const started = Date.now()
    yield* Effect.scoped(
      Effect.gen(function* () {
        const observed = yield* observedServer(
          {
            ...certs.server,
            path,
            shutdownTimeout: "200 millis",
            connection: { handshakeTimeout: `${HANDSHAKE_MS} millis`, closeTimeout: "200 millis" }
          },
          echo
        )
        const steady = yield* steadyEcho(
          NodeTls.connect({ host: "127.0.0.1", port: observed.port, ...certs.client, path }),
          10
        )
        for (const c of cases(hello)) {
          const before = steady.roundTrips()
          const result: RawResult = yield* rawClient(observed.port, c.script, 3_000)
          const error = yield* observed.nextFailure(1_000)
          const bound = c.slow === true ? SLOW_CLOSE_MS : FAST_CLOSE_MS
          const got = Option.match(error, { onNone: () => "no error logged", onSome: describeError })
          report.push(
            `${c.name}: ${got} (${Option.getOrUndefined(error)?.message}), closed after ${result.closedAfterMs} ms`
          )
          if (!c.expect.includes(got)) problems.push(`${c.name}: expected ${c.expect.join(" or ")}, got ${got}`)
          if (result.ended !== "closed") problems.push(`${c.name}: the server did not close the socket`)
          if (result.closedAfterMs > bound)
            problems.push(`${c.name}: closed after ${result.closedAfterMs} ms > ${bound}`)
          if (c.slow === true && result.closedAfterMs < HANDSHAKE_MS - 50) {
            problems.push(`${c.name}: dropped after ${result.closedAfterMs} ms, before the handshake timeout`)
          }
          if (steady.failure() !== undefined) problems.push(`${c.name}: the steady client failed: ${steady.failure()}`)
          if (c.slow === true && steady.roundTrips() <= before) {
            problems.push(`${c.name}: the steady client made no progress meanwhile`)
          }
        }
        // Every failure was logged once: nothing extra (the steady client never failed).
        const extra = yield* observed.pending
        if (extra !== 0) problems.push(`${extra} more failures logged than cases`)
        const counts = yield* observed.errorCounts
        const counted = Object.values(counts).reduce((a, b) => a + b, 0)
        if (counted !== cases(hello).length)
          problems.push(`tls_errors_total counts ${counted}: ${JSON.stringify(counts)}`)
        report.push(`metrics: ${JSON.stringify(counts)}; steady round trips: ${steady.roundTrips()}`)
        assert.strictEqual(yield* observed.server.connections, 1, "only the steady client is left")
      })
    )
    yield* conclude(resources, problems, report, () => {
      if (processListeners() > listeners) problems.push(`process listeners ${listeners} -> ${processListeners()}`)
      report.push(`${path}: ${cases(hello).length} cases in ${Date.now() - started} ms`)
    })
  })

describe("reliability: bad input to the server", () => {
  onBothPaths("typed error logged and counted, socket closed in bound, steady echo unaffected", abuse, 30_000)
})
