import * as tls from "node:tls"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it } from "@effect/vitest"
import { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import { Loopback } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Socket from "effect/socket/Socket"
import * as EffectSocket from "../src/EffectSocket.ts"
import * as NodeTls from "../src/NodeTls.ts"
import { concat, credentials, listen, pattern, tcpPair } from "./engine-path-support.ts"

const isCleanClose = (error: Socket.SocketError) =>
  error.reason._tag === "SocketCloseError" && error.reason.code === 1000

/** A node:tls echo server on 127.0.0.1 (a peer that is not this library); closed with the scope. */
const nodeEchoServer = Effect.gen(function* () {
  const creds = yield* credentials
  const credential = creds.server.credentials[0]
  if (credential === undefined) return yield* Effect.die("no credential")
  const sockets = new Set<tls.TLSSocket>()
  const server = tls.createServer(
    { cert: credential.cert, key: Redacted.value(credential.key), allowHalfOpen: true },
    (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      socket.pipe(socket)
    }
  )
  return { port: yield* Loopback.serve(server), client: creds.client, open: () => sockets.size }
})

describe("duplex path and Effect Socket", () => {
  it.live("a TLS connection is an Effect Socket: Socket.toChannel echoes 256 KiB and the session stays reachable", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      const serverFiber = yield* serve((transport) =>
        Effect.gen(function* () {
          const conn = yield* NodeTls.upgradeServer(transport, creds.server)
          yield* conn.reader.stream.pipe(Stream.run(conn.writer.sink))
          return yield* conn.closed
        })
      )

      const conn = yield* NodeTls.upgradeClient(yield* connect, creds.client)
      const socket = EffectSocket.fromTlsConnection(conn)
      assert.isTrue(Socket.isSocket(socket))
      const data = pattern(256 * 1024, 7)
      const chunks = Array.from({ length: 64 }, (_, i) => data.subarray(i * 4096, (i + 1) * 4096))
      const echoed = yield* Stream.fromIterable(chunks).pipe(
        Stream.pipeThroughChannel(Socket.toChannel(socket)),
        Stream.catchIf(isCleanClose, () => Stream.empty),
        Stream.runCollect
      )
      assert.deepStrictEqual(concat(echoed), data)
      assert.strictEqual(socket.connection.session.protocol, "TLSv1.3")
      assert.isTrue(socket.connection.session.peerVerified)
      assert.deepStrictEqual(
        yield* socket.connection.closed,
        CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: true, closeNotifySent: true })
      )
      assert.strictEqual((yield* Fiber.join(serverFiber))._tag, "Clean")
    }).pipe(Effect.scoped)
  )

  it.live("closing the reader's scope fails a pull blocked in another fiber with close code 1006", () =>
    Effect.gen(function* () {
      const { creds, serve, connect } = yield* tcpPair
      yield* serve((transport) => Effect.andThen(NodeTls.upgradeServer(transport, creds.server), Effect.never))
      const conn = yield* NodeTls.upgradeClient(yield* connect, creds.client)
      const socket = EffectSocket.fromTlsConnection(conn)
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          const { pull } = yield* socket.reader
          const blocked = yield* Effect.forkChild(Effect.flip(pull))
          yield* Effect.yieldNow
          return blocked
        })
      ).pipe(Effect.flatMap(Fiber.join))
      assert.strictEqual(error.reason._tag, "SocketCloseError")
      assert.strictEqual(error.reason._tag === "SocketCloseError" ? error.reason.code : 0, 1006)
    }).pipe(Effect.scoped)
  )

  it.live("an Effect Socket (NodeSocket.makeNet) is a transport: TLS to a node:tls server, clean close", () =>
    Effect.gen(function* () {
      const server = yield* nodeEchoServer
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: server.port, allowHalfOpen: true })
      const transport = yield* EffectSocket.toTransport(socket)
      const conn = yield* NodeTls.upgradeClient(transport, server.client)
      const data = pattern(200_000, 3)
      const echoed = yield* Effect.forkChild(Stream.runCollect(conn.reader.stream))
      yield* conn.writer.write(data)
      yield* conn.writer.end
      assert.deepStrictEqual(concat(yield* Fiber.join(echoed)), data)
      const outcome = yield* conn.closed
      assert.strictEqual(outcome._tag, "Clean")
      assert.strictEqual(conn.session.role, "client")
    }).pipe(Effect.scoped)
  )

  it.live("over an Effect Socket, a FIN without close_notify is truncation", () =>
    Effect.gen(function* () {
      const { creds, listener, serve } = yield* tcpPair
      yield* serve((transport, socket) =>
        Effect.gen(function* () {
          const conn = yield* NodeTls.upgradeServer(transport, creds.server)
          yield* conn.writer.write("partial")
          yield* conn.writer.flush
          socket.end()
          yield* Effect.never
        })
      )
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: listener.port, allowHalfOpen: true })
      const conn = yield* NodeTls.upgradeClient(yield* EffectSocket.toTransport(socket), creds.client)
      const first = yield* conn.reader.readExactly(7)
      assert.strictEqual(new TextDecoder().decode(first), "partial")
      const error = yield* Effect.flip(conn.reader.read)
      assert.strictEqual(error._tag, "TlsTruncationError")
    }).pipe(Effect.scoped)
  )

  it.live("an Effect Socket that cannot open fails with a typed transport error", () =>
    Effect.gen(function* () {
      const listener = yield* Effect.scoped(listen)
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: listener.port })
      const error = yield* Effect.flip(Effect.scoped(EffectSocket.toTransport(socket)))
      assert.strictEqual(error.reason._tag, "ConnectionRefused")
    })
  )
})
