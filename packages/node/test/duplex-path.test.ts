import { assert, describe, it } from "@effect/vitest"
import { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import * as Plaintext from "../src/Plaintext.ts"
import { concat, listen, pattern, tcpPair } from "./engine-path-support.ts"

const readAll = (conn: TlsConnection) =>
  Stream.runCollect(conn.reader.stream).pipe(Effect.map((chunks) => concat(Array.from(chunks))))

describe("duplex path over TCP", () => {
  it.live("transfers 1 MiB each way and closes cleanly with close_notify on both sides", () =>
    Effect.gen(function* () {
      const { creds, listener, serve, connect } = yield* tcpPair
      const serverFiber = yield* serve((transport) =>
        Effect.gen(function* () {
          const conn = yield* NodeTls.upgradeServer(transport, creds.server)
          const received = yield* readAll(conn)
          yield* conn.writer.write(received)
          yield* conn.writer.end
          return { received, outcome: yield* conn.closed, session: conn.session }
        })
      )

      const data = pattern(1024 * 1024)
      const result = yield* Effect.gen(function* () {
        const conn = yield* NodeTls.upgradeClient(yield* connect, creds.client)
        assert.strictEqual(conn.session.protocol, "TLSv1.3")
        assert.isTrue(conn.session.peerVerified)
        const echoed = yield* Effect.forkChild(readAll(conn))
        yield* conn.writer.write(data)
        yield* conn.writer.end
        const back = yield* Fiber.join(echoed)
        return { back, outcome: yield* conn.closed }
      }).pipe(Effect.scoped)

      const server = yield* Fiber.join(serverFiber)
      assert.deepStrictEqual(server.received, data)
      assert.deepStrictEqual(result.back, data)
      assert.deepStrictEqual(
        result.outcome,
        CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: true, closeNotifySent: true })
      )
      assert.deepStrictEqual(
        server.outcome,
        CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: true, closeNotifySent: true })
      )
      assert.strictEqual(server.session.role, "server")
      // Both scopes destroyed their sockets; each closes a tick later.
      yield* listener.allClosed.pipe(Effect.timeout("2 seconds"))
      assert.strictEqual(listener.openSockets(), 0)
    }).pipe(Effect.scoped)
  )

  it.live("a TCP FIN without close_notify is truncation, in the read half and in the outcome", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      const serverFiber = yield* serve((transport, socket) =>
        Effect.gen(function* () {
          yield* NodeTls.upgradeServer(transport, creds.server)
          // The server's TCP side ends without a TLS close_notify.
          socket.end()
          yield* Effect.never
        })
      )
      const conn = yield* NodeTls.upgradeClient(yield* connect, creds.client)
      const read = yield* Effect.flip(conn.reader.read)
      assert.strictEqual(read._tag, "TlsTruncationError")
      // The write half is independent (TLS 1.3): the outcome is known once it ends too.
      yield* conn.writer.end
      const outcome = yield* conn.closed
      assert.strictEqual(outcome._tag, "Truncated")
      yield* Fiber.interrupt(serverFiber)
    }).pipe(Effect.scoped)
  )

  it.live("connect to a closed port fails with ConnectionRefused", () =>
    Effect.gen(function* () {
      const listener = yield* Effect.scoped(listen)
      const error = yield* Effect.flip(Effect.scoped(NodeTransport.connect({ host: "127.0.0.1", port: listener.port })))
      assert.strictEqual(error.reason._tag, "ConnectionRefused")
    })
  )

  it.live("an unknown host fails with HostNotFound", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(NodeTransport.connect({ host: "no-such-host.invalid", port: 443 }))
      )
      assert.strictEqual(error.reason._tag, "HostNotFound")
    })
  )

  it.live("STARTTLS: a client that pipelines plaintext after STARTTLS fails the server's upgrade", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      const serverFiber = yield* serve((transport) =>
        Effect.gen(function* () {
          const plain = yield* Plaintext.make(transport)
          const command = yield* plain.readLine
          assert.strictEqual(command, "STARTTLS")
          yield* plain.write("220 go ahead\r\n")
          return yield* Effect.flip(NodeTls.upgradeServer(plain, creds.server))
        })
      )

      const plain = yield* Plaintext.make(yield* connect)
      // One write: the command and the injected one arrive together.
      yield* plain.write("STARTTLS\r\nMAIL FROM:<attacker@example>\r\n")
      const error = yield* Fiber.join(serverFiber)
      assert.strictEqual(error._tag, "TlsHandshakeError")
      assert.strictEqual(error._tag === "TlsHandshakeError" ? error.reason._tag : undefined, "PlaintextInjection")
      // The server destroyed the transport: the client sees the end, never a TLS byte.
      const rest = yield* plain.read.pipe(Effect.orElseSucceed(() => Option.none<Uint8Array>()))
      const reply = yield* Option.match(rest, {
        onNone: () => Effect.succeed(""),
        onSome: (bytes) => Effect.succeed(new TextDecoder().decode(bytes))
      })
      assert.isFalse(reply.includes("\u0016"), "no TLS record reached the client")
    }).pipe(Effect.scoped)
  )

  it.live("STARTTLS: a server that injects plaintext after its 220 fails the client's upgrade", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      yield* serve((transport) =>
        Effect.gen(function* () {
          const plain = yield* Plaintext.make(transport)
          yield* plain.readLine
          yield* plain.write("220 go ahead\r\n250 injected\r\n")
          yield* Effect.never
        })
      )
      const plain = yield* Plaintext.make(yield* connect)
      yield* plain.write("STARTTLS\r\n")
      assert.strictEqual(yield* plain.readLine, "220 go ahead")
      const error = yield* Effect.flip(NodeTls.upgradeClient(plain, creds.client))
      assert.strictEqual(error._tag === "TlsHandshakeError" ? error.reason._tag : error._tag, "PlaintextInjection")
    }).pipe(Effect.scoped)
  )

  it.live("STARTTLS: a clean prologue upgrades both sides and the prologue bytes stay out of TLS", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      const serverFiber = yield* serve((transport) =>
        Effect.gen(function* () {
          const plain = yield* Plaintext.make(transport)
          yield* plain.write("220 ready\r\n")
          assert.strictEqual(yield* plain.readLine, "STARTTLS")
          yield* plain.write("220 go ahead\r\n")
          const conn = yield* NodeTls.upgradeServer(plain, creds.server)
          const line = yield* conn.reader.readUntil("\r\n")
          yield* conn.writer.write(concat([new TextEncoder().encode("echo "), line]))
          yield* conn.writer.end
          return yield* conn.closed
        })
      )
      const plain = yield* Plaintext.make(yield* connect)
      assert.strictEqual(yield* plain.readLine, "220 ready")
      yield* plain.write("STARTTLS\r\n")
      assert.strictEqual(yield* plain.readLine, "220 go ahead")
      const conn = yield* NodeTls.upgradeClient(plain, creds.client)
      yield* conn.writer.write("hello\r\n")
      const reply = yield* readAll(conn)
      assert.strictEqual(new TextDecoder().decode(reply), "echo hello")
      yield* conn.writer.end
      const outcome = yield* Fiber.join(serverFiber)
      assert.strictEqual(outcome._tag, "Clean")
      // The plaintext channel is spent.
      const after = yield* Effect.flip(plain.write("late"))
      assert.strictEqual(after._tag, "TlsStateError")
    }).pipe(Effect.scoped)
  )

  it.live("TLS inside TLS: an inner session runs over an outer TLS connection (as through a CONNECT tunnel)", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      // The server speaks TLS, then TLS again inside it.
      const serverFiber = yield* serve((transport) =>
        Effect.gen(function* () {
          const outer = yield* NodeTls.upgradeServer(transport, creds.server)
          const inner = yield* NodeTls.upgradeServer(yield* NodeTransport.fromTlsConnection(outer), creds.server)
          const line = yield* inner.reader.readUntil("\n")
          yield* inner.writer.write(concat([new TextEncoder().encode("inner:"), line]))
          yield* inner.writer.end
          return yield* inner.closed
        })
      )
      const outer = yield* NodeTls.upgradeClient(yield* connect, creds.client)
      const inner = yield* NodeTls.upgradeClient(yield* NodeTransport.fromTlsConnection(outer), creds.client)
      assert.strictEqual(inner.session.protocol, "TLSv1.3")
      yield* inner.writer.write("hello\n")
      const reply = yield* readAll(inner)
      assert.strictEqual(new TextDecoder().decode(reply), "inner:hello")
      yield* inner.writer.end
      assert.deepStrictEqual(
        yield* inner.closed,
        CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: true, closeNotifySent: true })
      )
      assert.strictEqual((yield* Fiber.join(serverFiber))._tag, "Clean")
      const stats = yield* outer.stats
      // The inner session's records travelled as the outer's plaintext.
      assert.isAbove(stats.bytesWritten, 1000)
    }).pipe(Effect.scoped)
  )
})
