/**
 * A server handler that fails must not look like a clean end to its client:
 * the connection is reset (TCP RST, no close_notify), the failure is logged
 * at the configured level with the client's address and counted in
 * `tls_server_handler_failures_total`. A handler that succeeds still ends
 * with close_notify. Checked with our client on both paths against both
 * server paths, and with `openssl s_client`, which tells a reset
 * (`errno=104`) from a close_notify (`closed`). Connections that fail before
 * their handler runs reach `onHandshakeFailure`.
 */
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { credential } from "./helpers.ts"
import { clientOn, hasOpenssl, peerTest } from "./interop-support.ts"

const PATHS: ReadonlyArray<TlsOptions.Path> = ["native", "duplex"]

/** What a handler writes before it ends, one way or the other. */
const GREETING = "partial answer\n"

type Ending = "succeeds" | "fails" | "dies" | "throws"

/**
 * A handler that writes the greeting, then succeeds, fails or dies; or one
 * that throws instead of returning an effect.
 */
const handlerThat = (ending: Ending) => (connection: TlsConnection.TlsConnection) => {
  if (ending === "throws") throw new Error("a bug before the handler's effect")
  return Effect.andThen(
    connection.writer.write(GREETING),
    ending === "succeeds"
      ? Effect.void
      : ending === "fails"
        ? Effect.fail(new Error("the protocol broke"))
        : Effect.die(new Error("a bug in the handler"))
  )
}

interface LogEntry {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  readonly failed: boolean
}

/**
 * `NodeTls.serve` with its logs and metrics kept apart for the test: every
 * log line at any level in `logs`, the handler failures of this server alone
 * in `handlerFailures`.
 */
const observed = <E, R = never>(
  options: TlsOptions.ServerOptions,
  handler: (connection: TlsConnection.TlsConnection, peer: NodeTlsServer.Peer) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function* () {
    const logs = yield* Queue.unbounded<LogEntry>()
    const logger = Logger.make((entry) => {
      const message = Array.isArray(entry.message) ? entry.message.join(" ") : String(entry.message)
      Queue.offerUnsafe(logs, {
        level: entry.logLevel,
        message,
        annotations: entry.fiber.getRef(References.CurrentLogAnnotations),
        failed: entry.cause.reasons.length > 0
      })
    })
    const registry = new Map()
    const server = yield* NodeTls.serve(options, handler).pipe(
      Effect.provideService(References.MinimumLogLevel, "Debug"),
      Effect.provideService(Logger.CurrentLoggers, new Set([logger])),
      Effect.provideService(Metric.MetricRegistry, registry)
    )
    const handlerFailures = Effect.map(
      Metric.snapshot.pipe(Effect.provideService(Metric.MetricRegistry, registry)),
      (snapshots) => {
        const counts: Record<string, number> = {}
        for (const snapshot of snapshots) {
          if (snapshot.id !== "tls_server_handler_failures_total") continue
          const kind = String(snapshot.attributes?.kind)
          counts[kind] = Number((snapshot.state as { readonly count: number | bigint }).count)
        }
        return counts
      }
    )
    /** The log lines about handler failures so far (the debug lines of other failures are left out). */
    const handlerLogs = Effect.map(Queue.clear(logs), (entries) =>
      entries.filter((entry) => entry.message.includes("the handler failed"))
    )
    return { server, port: server.address.port, handlerFailures, handlerLogs }
  })

/**
 * Reads to the end (at most 64 reads): the bytes that arrived, and how the
 * stream ended: `None` for a clean end, else the error of the read.
 */
const readToEnd = (connection: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    let text = ""
    for (let i = 0; i < 64; i++) {
      const exit = yield* Effect.exit(connection.reader.read)
      if (Exit.isFailure(exit)) return { text, error: Option.getOrUndefined(Exit.findErrorOption(exit)) }
      if (Option.isNone(exit.value)) return { text, error: undefined }
      text += new TextDecoder().decode(exit.value.value)
    }
    return yield* Effect.die(new Error(`no end after 64 reads: ${text.length} bytes`))
  }).pipe(Effect.timeout("10 seconds"))

const scoped = <A, E>(body: Effect.Effect<A, E, Scope.Scope>) => Effect.scoped(body).pipe(Effect.timeout("20 seconds"))

describe("a server handler that fails", () => {
  for (const serverPath of PATHS) {
    for (const clientPath of PATHS) {
      it.live(
        `${serverPath} server, ${clientPath} client: a failed handler resets the connection, a defect or a throw too, a success ends with close_notify`,
        () =>
          scoped(
            Effect.gen(function* () {
              const issued = yield* CertificateAuthority.issueServer()
              for (const ending of ["succeeds", "fails", "dies", "throws"] as const) {
                const { port, handlerFailures, handlerLogs } = yield* observed(
                  { credentials: [credential(issued)], path: serverPath, shutdownTimeout: "100 millis" },
                  handlerThat(ending)
                )
                const client = yield* clientOn(clientPath, port, issued.ca)
                const { text, error } = yield* readToEnd(client)
                if (ending === "succeeds") {
                  assert.strictEqual(text, GREETING, "everything the handler wrote")
                  assert.isUndefined(error, "a clean end")
                  assert.deepStrictEqual(yield* handlerFailures, {})
                  assert.deepStrictEqual(yield* handlerLogs, [])
                  continue
                }
                // What the handler wrote may or may not have left before the reset; the end is never clean.
                assert.isTrue(GREETING.startsWith(text), text)
                assert.strictEqual(error?._tag, "TlsTransportError", `${ending}: ${String(error)}`)
                assert.strictEqual(error?._tag === "TlsTransportError" && error.reason._tag, "ConnectionReset")
                assert.deepStrictEqual(yield* handlerFailures, { [ending === "fails" ? "error" : "defect"]: 1 })
                const logged = yield* handlerLogs
                assert.strictEqual(logged.length, 1, JSON.stringify(logged))
                assert.strictEqual(logged[0]?.level, "Warn", "logged at warning level by default")
                assert.isTrue(logged[0]?.failed, "the log line carries the cause")
                assert.strictEqual(logged[0]?.annotations["client.address"], "127.0.0.1")
                assert.isNumber(logged[0]?.annotations["client.port"])
              }
            })
          ),
        30_000
      )
    }
  }

  it.live(
    "each handler has a scope of its own, closed as the handler ends: before the close after a success, after the reset after a failure",
    () =>
      scoped(
        Effect.gen(function* () {
          const issued = yield* CertificateAuthority.issueServer()
          const finalized = yield* Queue.unbounded<{
            readonly exit: Exit.Exit<unknown, unknown>
            readonly wrote: Exit.Exit<void, TlsError>
          }>()
          // Each handler waits for its client to say how it should end.
          const { port } = yield* observed(
            { credentials: [credential(issued)], shutdownTimeout: "100 millis" },
            (connection) =>
              Effect.gen(function* () {
                yield* Effect.addFinalizer((exit) =>
                  Effect.flatMap(Effect.exit(connection.writer.write("finalized\n")), (wrote) =>
                    Queue.offer(finalized, { exit, wrote })
                  )
                )
                const said = yield* connection.reader.read
                const ending =
                  Option.isSome(said) && new TextDecoder().decode(said.value) === "fails" ? "fails" : "succeeds"
                yield* handlerThat(ending)(connection)
              })
          )
          const first = yield* clientOn("native", port, issued.ca)
          const second = yield* clientOn("native", port, issued.ca)

          yield* first.writer.write("succeeds")
          const succeeded = yield* readToEnd(first)
          assert.strictEqual(succeeded.text, `${GREETING}finalized\n`, "the finalizer wrote before the close")
          assert.isUndefined(succeeded.error, "a clean end")
          const afterSuccess = yield* Queue.take(finalized)
          assert.isTrue(Exit.isSuccess(afterSuccess.exit), "the finalizer saw the handler's success")
          assert.isTrue(Exit.isSuccess(afterSuccess.wrote))
          // The second connection is open still: its scope is not the first one's.
          assert.strictEqual(yield* Queue.size(finalized), 0)

          yield* second.writer.write("fails")
          const failed = yield* readToEnd(second)
          assert.strictEqual(failed.error?.reason._tag, "ConnectionReset")
          assert.notInclude(failed.text, "finalized", "the reset came before the finalizer")
          const afterFailure = yield* Queue.take(finalized)
          assert.isTrue(Exit.isFailure(afterFailure.exit), "the finalizer saw the handler's failure")
          assert.include(String(Exit.findErrorOption(afterFailure.exit)), "the protocol broke")
        })
      )
  )

  it.live("a finalizer of the handler that dies still closes the connection, which leaves the server's count", () =>
    scoped(
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const { server, port } = yield* observed(
          { credentials: [credential(issued)], shutdownTimeout: "100 millis" },
          (connection) =>
            Effect.andThen(
              Effect.addFinalizer(() => Effect.die(new Error("a bug in the finalizer"))),
              connection.writer.write(GREETING)
            )
        )
        const { text, error } = yield* readToEnd(yield* clientOn("native", port, issued.ca))
        assert.strictEqual(text, GREETING)
        assert.isUndefined(error, "the handler succeeded: a clean end")
        // The fiber leaves the set as it ends, after the close the client just saw.
        const left = yield* Effect.repeat(server.connections, {
          until: (count) => count === 0,
          schedule: Schedule.spaced("10 millis"),
          times: 500
        })
        assert.strictEqual(left, 0)
      })
    )
  )

  it.live("the log level is an option: Error logs at error level, None logs nothing; both still reset and count", () =>
    scoped(
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        for (const level of ["Error", "None"] as const) {
          const { port, handlerFailures, handlerLogs } = yield* observed(
            { credentials: [credential(issued)], handlerFailureLogLevel: level, shutdownTimeout: "100 millis" },
            handlerThat("fails")
          )
          const { error } = yield* readToEnd(yield* clientOn("native", port, issued.ca))
          assert.strictEqual(error?.reason._tag, "ConnectionReset")
          assert.deepStrictEqual(yield* handlerFailures, { error: 1 })
          const logged = yield* handlerLogs
          assert.deepStrictEqual(
            logged.map((entry) => entry.level),
            level === "None" ? [] : ["Error"]
          )
        }
      })
    )
  )

  it.live(
    "onHandshakeFailure gets the error and the client's address of a handshake that failed; the handler never ran",
    () =>
      scoped(
        Effect.gen(function* () {
          const issued = yield* CertificateAuthority.issueServer()
          const failures = yield* Queue.unbounded<{ readonly error: TlsError; readonly peer: NodeTlsServer.Peer }>()
          const handled = { count: 0 }
          const { port } = yield* observed(
            {
              credentials: [credential(issued)],
              shutdownTimeout: "100 millis",
              onHandshakeFailure: (error, peer) => Queue.offer(failures, { error, peer })
            },
            () =>
              Effect.sync(() => {
                handled.count++
              })
          )
          // Plain HTTP on the TLS port: the server's handshake fails on the first bytes.
          const socket = yield* Effect.acquireRelease(
            Effect.sync(() => net.connect({ host: "127.0.0.1", port })),
            (socket) => Effect.sync(() => socket.destroy())
          )
          socket.on("error", () => {})
          socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
          const seen = yield* Queue.take(failures).pipe(Effect.timeout("10 seconds"))
          assert.strictEqual(seen.peer.address, "127.0.0.1")
          assert.strictEqual(seen.peer.port, socket.localPort)
          assert.strictEqual(seen.error._tag, "TlsHandshakeError", seen.error.message)
          assert.strictEqual(handled.count, 0)
        })
      )
  )
})

describe.skipIf(!hasOpenssl)("openssl s_client against a failed handler (needs openssl and stdbuf)", () => {
  for (const serverPath of PATHS) {
    peerTest(
      `${serverPath} server: s_client sees close_notify after a handler that succeeds, and a reset after one that fails`,
      25,
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const files = yield* TempFiles.pem(issued)
        for (const ending of ["succeeds", "fails"] as const) {
          const { port } = yield* observed(
            {
              credentials: [credential(issued)],
              path: serverPath,
              handlerFailureLogLevel: "None",
              shutdownTimeout: "100 millis"
            },
            handlerThat(ending)
          )
          const peer = yield* Peer.opensslClient({ port, ca: files.ca, servername: "localhost", args: ["-quiet"] })
          yield* peer.exited
          const output = peer.output()
          if (ending === "succeeds") {
            assert.include(peer.stdoutText(), GREETING)
            assert.notMatch(output, /errno=104|reset/i, output)
          } else {
            // s_client's read failed with ECONNRESET: no close_notify, no clean end.
            assert.match(output, /errno=104|Connection reset/i, output)
          }
        }
      })
    )
  }
})
