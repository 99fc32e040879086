/**
 * The default connect timeout, with no options given, on the TestClock. The
 * connect timeout bounds the TCP connect (name lookup included); the
 * handshake after it has a bound of its own (`handshakeTimeout`, tested in
 * the core's bounds tests). So the listener here takes no connection at all:
 * a process that listens with the smallest backlog and is then stopped
 * (SIGSTOP), whose accept queue the test fills; the kernel then drops every
 * further SYN, and the connect under test waits for ever unless its bound
 * ends it. Each test checks that the connect is still waiting just before
 * the bound, and fails with `Timeout` at it.
 */
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import { Peer } from "@effect-tls/test"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"

/** A listener with a backlog of one, in a process that stops itself once it printed its port. */
const STOPPED_LISTENER = `
const server = require("node:net").createServer()
server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + "\\n", () => process.kill(process.pid, "SIGSTOP"))
})
`

/** How long a probe may take to connect before the accept queue counts as full (real time). */
const PROBE_MILLIS = 300
/** At most this many probes: a backlog of one queues two connections on Linux. */
const MAX_PROBES = 8

/** Whether a TCP connect to `port` completes within PROBE_MILLIS; the socket stays open with the scope. */
const probe = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.on("error", () => {})
      return socket
    }),
    (socket) => Effect.sync(() => socket.destroy())
  ).pipe(
    Effect.flatMap((socket) =>
      Effect.callback<boolean>((resume) => {
        const timer = setTimeout(() => resume(Effect.succeed(false)), PROBE_MILLIS)
        socket.once("connect", () => {
          clearTimeout(timer)
          resume(Effect.succeed(true))
        })
        return Effect.sync(() => clearTimeout(timer))
      })
    )
  )

/** A port on 127.0.0.1 whose listener takes no more connections: its process is stopped, its queue full. */
const unanswered: Effect.Effect<number, unknown, Scope.Scope> = Effect.gen(function* () {
  const listener = yield* Peer.start(process.execPath, ["-e", STOPPED_LISTENER], { name: "stopped listener" })
  // Runs before the peer's own stop: a stopped process takes SIGTERM only once continued.
  yield* Effect.addFinalizer(() => listener.signal("SIGCONT"))
  const [, port = ""] = yield* listener.waitFor(/^(\d+)$/m, { stream: "stdout" })
  for (let i = 0; i < MAX_PROBES; i++) {
    if (!(yield* probe(Number(port)))) return Number(port)
  }
  return yield* Effect.die(new Error(`the accept queue of a stopped listener took ${MAX_PROBES} connections`))
})

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
/** How long (real time) the connect may take to end once its bound fired on the TestClock. */
const JOIN_BOUND = Duration.seconds(5)

/**
 * Runs `connect` to a port that takes no connection, with the TestClock:
 * still waiting 1 ms before the default bound, failed at it. Its error.
 */
const atDefaultBound = (connect: (port: number) => Effect.Effect<unknown, TlsError, Scope.Scope>) =>
  Effect.gen(function* () {
    // The queue is filled on the real clock: its probes wait real time.
    const port = yield* TestClock.withLive(unanswered)
    const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(connect(port))))
    yield* TestClock.adjust(Duration.subtract(DEFAULT_CONNECT_TIMEOUT, Duration.millis(1)))
    assert.isUndefined(fiber.pollUnsafe(), "the connect ended before its default bound")
    yield* TestClock.adjust(Duration.millis(1))
    // Once the bound fired, the connect ends at once; a real-time bound makes a missing timeout fail fast.
    const error = yield* TestClock.withLive(
      Effect.timeoutOrElse(Fiber.join(fiber), {
        duration: JOIN_BOUND,
        orElse: () => Effect.die(new Error("the connect did not end at its default bound"))
      })
    )
    // A TCP connect that timed out, not the handshake's bound (10 s too) after a connect.
    assert.strictEqual(error._tag, "TlsTransportError", error.message)
    assert.strictEqual(error._tag === "TlsTransportError" && error.reason._tag, "Timeout", error.message)
    assert.include(error.message, `no connection to 127.0.0.1:${port} within 10s`)
  })

describe("the default connect timeout (no options)", () => {
  it.effect("NodeTls.connect, native path: a listener that takes no connection ends it at 10 s with Timeout", () =>
    atDefaultBound((port) => NodeTls.connect({ host: "127.0.0.1", port }))
  )
  it.effect("NodeTls.connect, duplex path: the same bound", () =>
    atDefaultBound((port) => NodeTls.connect({ host: "127.0.0.1", port, path: "duplex" }))
  )
  it.effect("a client's connect (NodeTlsClient.make): the same bound", () =>
    atDefaultBound((port) =>
      Effect.flatMap(NodeTlsClient.make({}), (client) => client.connect({ host: "127.0.0.1", port }))
    )
  )
  it.effect("NodeTransport.connect (the transport of an upgrade): the same bound", () =>
    atDefaultBound((port) => NodeTransport.connect({ host: "127.0.0.1", port }))
  )
})
