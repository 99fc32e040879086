/**
 * Faults (issue 8, item 4): the fault matrix of the duplex path with the
 * server's transport faulted (the duplex-path suite faults the client's), and
 * resets and stalls on the native path through a relay on 127.0.0.1. Every
 * case must end within its bound with the expected typed outcome, deliver
 * only a prefix of what was sent, and leave nothing open.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import { Relay } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { placesIn, recording, runMatrix, runSide, type Side } from "./fault-matrix.ts"
import {
  activeResources,
  echo,
  type Fixture,
  fixture,
  observedServer,
  settleResources,
  streamSlice
} from "./reliability-support.ts"

// -----------------------------------------------------------------------------
// duplex path, server transport faulted
// -----------------------------------------------------------------------------

const PAYLOAD = 40 * 1024
const payload = { client: streamSlice(11, 0, PAYLOAD), server: streamSlice(13, 0, PAYLOAD) }
const connection = { handshakeTimeout: "1 second", closeTimeout: "300 millis" } as const
/** Bound on one side's run (handshake, transfer, close): a stall ends here. */
const SIDE_BOUND_MS = 1_500
const side = (which: Side, connect: Parameters<typeof runSide>[1]) => runSide(payload[which], connect, SIDE_BOUND_MS)

const serverMatrix = (certs: Fixture) =>
  Effect.gen(function* () {
    // No session cache: a resumed ClientHello is longer, which would move every offset of the clean run.
    const client = yield* NodeTlsClient.make({ ...certs.client, connection, sessionCache: false })
    const acceptor = yield* NodeTlsServer.makeAcceptor({ ...certs.server, connection })
    // A clean run locates the places in each direction of the server's transport.
    const inbound: Array<Uint8Array> = []
    const outbound: Array<Uint8Array> = []
    const clean = MemoryTransport.makePair()
    yield* Effect.all(
      [
        side("client", client.upgrade(clean.a)),
        side("server", acceptor.upgrade(recording(clean.b, inbound, outbound)))
      ],
      { concurrency: 2 }
    )
    const started = Date.now()
    const { problems, cases } = yield* runMatrix({
      faulted: "server",
      offsets: { inbound: placesIn(Buffer.concat(inbound)), outbound: placesIn(Buffer.concat(outbound)) },
      connect: { client: (transport) => client.upgrade(transport), server: (transport) => acceptor.upgrade(transport) },
      payload,
      sideBound: SIDE_BOUND_MS,
      caseBoundMs: SIDE_BOUND_MS + 1_500
    })
    return { problems, cases, durationMs: Date.now() - started }
  })

// -----------------------------------------------------------------------------
// native path, resets and stalls through a relay
// -----------------------------------------------------------------------------

const HANDSHAKE_MS = 500
const IDLE_MS = 500

const describeError = (error: TlsError) => `${error._tag}/${error.reason._tag}`

const outcome = <A>(effect: Effect.Effect<A, TlsError>, millis: number) =>
  Effect.gen(function* () {
    const t0 = Date.now()
    const exit = yield* effect.pipe(Effect.timeoutOption(millis), Effect.exit)
    const ms = Date.now() - t0
    if (exit._tag === "Success") return { what: Option.isNone(exit.value) ? "bound" : "success", ms }
    const error = exit.cause.reasons.find((r) => r._tag === "Fail")
    return { what: error?._tag === "Fail" ? describeError(error.error) : "defect", ms }
  })

type NativeCase = "reset in the handshake" | "reset mid-transfer" | "stall in the handshake" | "stall mid-transfer"

const nativeCase = (certs: Fixture, name: NativeCase) =>
  Effect.scoped(
    Effect.gen(function* () {
      const observed = yield* observedServer(
        {
          ...certs.server,
          idleTimeout: `${IDLE_MS} millis`,
          shutdownTimeout: "100 millis",
          connection: { handshakeTimeout: `${HANDSHAKE_MS} millis`, closeTimeout: "200 millis" }
        },
        echo
      )
      const inHandshake = name.endsWith("handshake")
      const armed = { reset: false, drop: false }
      const relay = yield* Relay.make(observed.port, {
        onRecord: (direction, index, rec) => {
          // The server's first flight: reset before it, or drop everything from it on.
          if (direction === "toClient" && armed.reset) {
            // Nothing of the flight reaches the client: the reset comes first.
            if (index === 0) queueMicrotask(() => Effect.runSync(relay.reset))
            return Buffer.alloc(0)
          }
          return armed.drop && direction === "toClient" ? Buffer.alloc(0) : rec
        }
      })
      armed.reset = name === "reset in the handshake"
      armed.drop = name === "stall in the handshake"
      const connect = NodeTls.connect({
        host: "127.0.0.1",
        port: relay.port,
        ...certs.client,
        connection: { handshakeTimeout: `${HANDSHAKE_MS} millis`, closeTimeout: "200 millis" }
      })
      if (inHandshake) {
        const client = yield* outcome(Effect.scoped(connect), HANDSHAKE_MS + 1_000)
        const server = yield* observed.nextFailure(HANDSHAKE_MS + 1_000)
        return { client, server: Option.match(server, { onNone: () => "none", onSome: describeError }) }
      }
      const conn = yield* connect
      yield* conn.writer.write("hello")
      assert.strictEqual(Buffer.from(yield* conn.reader.readExactly(5)).toString(), "hello")
      if (name === "reset mid-transfer") {
        yield* relay.reset
        const client = yield* outcome(conn.reader.read, 1_000)
        const server = yield* observed.nextFailure(1_000)
        return { client, server: Option.match(server, { onNone: () => "none", onSome: describeError }) }
      }
      // Stall mid-transfer: the relay stops carrying the client's bytes; the server's idle timeout ends it.
      yield* relay.pause("toServer")
      yield* conn.writer.write("lost in the stall")
      const server = yield* observed.nextFailure(IDLE_MS + 1_000)
      const client = yield* outcome(conn.reader.read, 1_000)
      return { client, server: Option.match(server, { onNone: () => "none", onSome: describeError }) }
    })
  )

/**
 * A test whose `body` returns the problems it found (none is a pass); every
 * resource it opened must be closed afterwards.
 */
const checked = (
  name: string,
  body: (certs: Fixture) => Effect.Effect<ReadonlyArray<string>, unknown>,
  timeout: number
) =>
  it.live(
    name,
    () =>
      Effect.gen(function* () {
        const resources = activeResources()
        const problems = yield* body(yield* fixture)
        const left = yield* settleResources(resources)
        assert.deepStrictEqual([...problems, ...left], [])
      }),
    timeout
  )

describe("reliability: faults", () => {
  checked(
    "duplex path, server transport faulted: 7 faults x 2 directions x 3 places end typed, in bound, prefixes only",
    (certs) =>
      Effect.gen(function* () {
        const run = yield* Effect.scoped(serverMatrix(certs))
        console.log(`server fault matrix: ${run.cases} cases in ${run.durationMs} ms`)
        return run.problems
      }),
    90_000
  )

  checked(
    "native path: resets and stalls in the handshake and mid-transfer end typed within their bounds",
    (certs) =>
      Effect.gen(function* () {
        const problems: Array<string> = []
        const expect: Record<NativeCase, { client: ReadonlyArray<string>; server: ReadonlyArray<string>; ms: number }> =
          {
            "reset in the handshake": {
              client: ["TlsTransportError/ConnectionReset"],
              server: ["TlsTransportError/ConnectionReset"],
              ms: 500
            },
            "reset mid-transfer": {
              client: ["TlsTransportError/ConnectionReset"],
              server: ["TlsTransportError/ConnectionReset"],
              ms: 500
            },
            // Both time out at the same bound; the first to give up closes, so the other may see a reset.
            "stall in the handshake": {
              client: ["TlsHandshakeError/Timeout", "TlsTransportError/ConnectionReset"],
              server: ["TlsHandshakeError/Timeout", "TlsTransportError/ConnectionReset"],
              ms: HANDSHAKE_MS + 700
            },
            // The server's idle timeout closes it: the client sees the end (a FIN without close_notify
            // on the native path reads as an end) or a reset.
            "stall mid-transfer": {
              client: ["success", "TlsTransportError/ConnectionReset"],
              server: ["TlsTransportError/Timeout"],
              ms: 700
            }
          }
        for (const name of Object.keys(expect) as ReadonlyArray<NativeCase>) {
          const r = yield* nativeCase(certs, name)
          const e = expect[name]
          console.log(`native ${name}: ${JSON.stringify(r)}`)
          if (!e.client.includes(r.client.what)) problems.push(`${name}: client ${r.client.what}`)
          if (!e.server.includes(r.server)) problems.push(`${name}: server ${r.server}`)
          if (r.client.ms > e.ms) problems.push(`${name}: the client's end took ${r.client.ms} ms > ${e.ms}`)
        }
        return problems
      }),
    30_000
  )
})
