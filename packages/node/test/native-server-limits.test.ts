/**
 * The server's limits: `maxConnections` (the excess connection is refused at
 * accept, as TlsOptions documents) and the idle timeout.
 */
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { credential, serveIssued } from "./helpers.ts"
import { echo, observedServer } from "./reliability-support.ts"

describe("native path: server limits", () => {
  it.live("maxConnections: the excess connection is refused at accept; a slot freed is taken again", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
      const release = yield* Deferred.make<void>()
      const server = yield* serveIssued(
        issued,
        (connection) =>
          Effect.andThen(
            Queue.offer(accepted, connection),
            Effect.race(Deferred.await(release), Effect.asVoid(connection.reader.read))
          ),
        { maxConnections: 1 }
      )
      const connect = NodeTls.connect({
        host: "127.0.0.1",
        port: server.address.port,
        ca: issued.ca,
        servername: "localhost"
      })
      const first = yield* Effect.forkScoped(
        Effect.scoped(Effect.andThen(connect, (connection) => connection.reader.read))
      )
      yield* Queue.take(accepted).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(yield* server.connections, 1)
      // The second TCP connection is closed at accept, before any TLS: a typed transport failure.
      const refused = yield* Effect.scoped(connect).pipe(Effect.flip, Effect.timeout("5 seconds"))
      assert.strictEqual(refused._tag, "TlsTransportError")
      assert.strictEqual(yield* server.connections, 1)
      // Once the first connection ends, a new one is served.
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.await(first)
      let again: Exit.Exit<unknown, unknown> = Exit.void
      for (let attempt = 0; attempt < 50; attempt++) {
        again = yield* Effect.exit(Effect.scoped(connect))
        if (Exit.isSuccess(again)) break
        // The listener counts the closed socket down on its 'close' event: a bounded retry covers that tick.
        yield* Effect.sleep("20 millis")
      }
      assert.isTrue(Exit.isSuccess(again))
    }).pipe(Effect.scoped)
  )

  it.live("idle timeout: a connection with no traffic is closed with a typed Timeout; traffic keeps one open", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const outcomes = yield* Queue.unbounded<Exit.Exit<Option.Option<Uint8Array>, unknown>>()
      const server = yield* serveIssued(
        issued,
        (connection) =>
          Effect.gen(function* () {
            for (let i = 0; i < 100; i++) {
              const exit = yield* Effect.exit(connection.reader.read)
              if (Exit.isFailure(exit) || Option.isNone(exit.value)) {
                yield* Queue.offer(outcomes, exit)
                return
              }
              yield* connection.writer.write(exit.value.value)
            }
          }),
        { idleTimeout: "300 millis" }
      )
      const connect = NodeTls.connect({
        host: "127.0.0.1",
        port: server.address.port,
        ca: issued.ca,
        servername: "localhost"
      })
      // A busy connection: a message every 100 ms for 600 ms (twice the timeout) stays open.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* connect
          for (let i = 0; i < 6; i++) {
            yield* connection.writer.write(`ping ${i}`)
            const echo = yield* connection.reader.read.pipe(Effect.timeout("2 seconds"))
            assert.strictEqual(Buffer.from(Option.getOrThrow(echo)).toString(), `ping ${i}`)
            yield* Effect.sleep("100 millis")
          }
        })
      )
      // The busy connection ended by our close: a clean end, not a timeout.
      const busy = yield* Queue.take(outcomes).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isSuccess(busy))
      // An idle one is closed by the server after the timeout.
      const idle = yield* Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* connect
          const start = Date.now()
          const end = yield* Effect.exit(connection.reader.read.pipe(Effect.timeout("5 seconds")))
          return { end, elapsed: Date.now() - start }
        })
      )
      assert.isAtLeast(idle.elapsed, 250)
      assert.isBelow(idle.elapsed, 3000)
      // The client sees the connection end (the server destroys it without close_notify: FIN looks like an end here).
      assert.isTrue(Exit.isFailure(idle.end) || Option.isNone(idle.end.value))
      const outcome = yield* Queue.take(outcomes).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isFailure(outcome))
      if (Exit.isFailure(outcome)) {
        const error = outcome.cause.reasons[0]
        assert.strictEqual(error?._tag, "Fail")
        const failed = error?._tag === "Fail" ? (error.error as { _tag: string; reason: { _tag: string } }) : undefined
        assert.strictEqual(failed?._tag, "TlsTransportError")
        assert.strictEqual(failed?.reason._tag, "Timeout")
      }
    }).pipe(Effect.scoped)
  )
  it.live("idle timeout: a stalled handshake ends by the handshake timeout, not the shorter idle timeout", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const observed = yield* observedServer(
        {
          credentials: [credential(issued)],
          idleTimeout: "100 millis",
          shutdownTimeout: "100 millis",
          connection: { handshakeTimeout: "400 millis" }
        },
        echo
      )
      // A TCP client that never sends its hello.
      const silent = yield* Effect.acquireRelease(
        Effect.callback<net.Socket>((resume) => {
          const socket = net.connect({ host: "127.0.0.1", port: observed.port }, () => resume(Effect.succeed(socket)))
          socket.on("error", () => {})
        }),
        (socket) => Effect.sync(() => socket.destroy())
      )
      assert.isFalse(silent.destroyed)
      const failure = yield* observed.nextFailure(2_000)
      assert.isTrue(Option.isSome(failure), "the server reported no failure")
      const error = Option.getOrThrow(failure)
      assert.strictEqual(error._tag, "TlsHandshakeError")
      assert.strictEqual(error.reason._tag, "Timeout")
    }).pipe(Effect.scoped)
  )
})
