import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Transport from "@effect-tls/core/Transport"
import { CertificateAuthority } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { makeDuplexEngine, makeNativeEngine } from "../src/internal/tlsSocketEngine.ts"
import { ignoreError } from "../src/internal/transports/net.ts"

const collect = (connection: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < 100_000; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) break
      parts.push(chunk.value)
    }
    return Buffer.concat(parts)
  })

const duplexPair = Effect.fnUntraced(function* (capacity?: number) {
  const issued = yield* CertificateAuthority.issueServer()
  const pair = MemoryTransport.makePair(capacity === undefined ? undefined : { capacity })
  const server = makeDuplexEngine("server", { key: issued.key, cert: issued.chain, ALPNProtocols: ["h2", "x"] })
  const client = makeDuplexEngine(
    "client",
    { ca: issued.ca, servername: "localhost", ALPNProtocols: ["x"] },
    { servername: "localhost" }
  )
  const [c, s] = yield* Effect.all(
    [
      TlsConnection.make({ engine: client, transport: pair.a }),
      TlsConnection.make({ engine: server, transport: pair.b })
    ],
    { concurrency: 2 }
  )
  return { client: c, server: s, control: pair.control }
})

/** A TCP listener on 127.0.0.1 whose accepted sockets are handed to the test, closed with the scope. */
const tcpPair = Effect.fnUntraced(function* () {
  const accepted: Array<net.Socket> = []
  let onAccept: ((socket: net.Socket) => void) | undefined
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    if (onAccept !== undefined) onAccept(socket)
    else accepted.push(socket)
  })
  yield* Effect.acquireRelease(
    Effect.callback<void>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.void))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )
  const port = (server.address() as net.AddressInfo).port
  const client = yield* Effect.acquireRelease(
    Effect.callback<net.Socket>((resume) => {
      const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () => resume(Effect.succeed(socket)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )
  const serverSocket = yield* Effect.callback<net.Socket>((resume) => {
    const first = accepted.shift()
    if (first !== undefined) resume(Effect.succeed(first))
    else onAccept = (socket) => resume(Effect.succeed(socket))
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => serverSocket.destroy()))
  return { client, server: serverSocket }
})

describe("TLSSocket engine", () => {
  it.live("duplex: handshake, ALPN, data both ways, close_notify is reported as a clean end", () =>
    Effect.gen(function* () {
      const { client, server } = yield* duplexPair()
      assert.strictEqual(client.session.alpn, "x")
      assert.strictEqual(server.session.alpn, "x")
      assert.strictEqual(client.session.protocol, "TLSv1.3")
      assert.isTrue(client.session.peerVerified)
      // Leaf, intermediate and the trust anchor OpenSSL verified it against.
      assert.strictEqual(client.session.peerCertificates.length, 3)
      assert.include(client.session.peerCertificates[0]?.subjectAltNames ?? [], "DNS:localhost")
      const payload = Buffer.alloc(300_000, 7)
      const reader = yield* Effect.forkChild(collect(server))
      yield* client.writer.write(payload)
      yield* client.writer.end
      const received = yield* Fiber.join(reader)
      assert.isTrue(received.equals(payload))
      yield* server.writer.write("bye")
      yield* server.writer.end
      const back = yield* collect(client)
      assert.strictEqual(back.toString(), "bye")
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Clean")
      if (outcome._tag === "Clean") assert.isTrue(outcome.closeNotifyReceived)
    }).pipe(Effect.scoped)
  )

  it.live("duplex: a transport EOF without close_notify is a truncation", () =>
    Effect.gen(function* () {
      const { client, server, control } = yield* duplexPair()
      yield* server.writer.write("partial")
      yield* server.writer.flush
      const first = yield* client.reader.read
      assert.strictEqual(Option.getOrThrow(first).toString(), "partial")
      control.end("bToA")
      const next = yield* Effect.flip(client.reader.read)
      assert.strictEqual(next._tag, "TlsTruncationError")
      // The write half is independent: it still ends gracefully.
      yield* client.writer.end
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Truncated")
    }).pipe(Effect.scoped)
  )

  it.live(
    "native: handshake and data over TCP, the end is reported as Ended; the guard error listener is removed",
    () =>
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const sockets = yield* tcpPair()
        sockets.client.on("error", ignoreError)
        sockets.server.on("error", ignoreError)
        const server = makeNativeEngine("server", sockets.server, { key: issued.key, cert: issued.chain })
        const client = makeNativeEngine("client", sockets.client, { ca: issued.ca, servername: "localhost" })
        const [c, s] = yield* Effect.all(
          [
            TlsConnection.make({ engine: client, transport: Transport.native }),
            TlsConnection.make({ engine: server, transport: Transport.native })
          ],
          { concurrency: 2 }
        )
        // The TLSSocket forwards the TCP socket's errors: the guard listener is gone, Node's is there.
        for (const tcp of [sockets.client, sockets.server]) {
          assert.notInclude(tcp.listeners("error"), ignoreError)
          assert.isAtLeast(tcp.listenerCount("error"), 1)
        }
        const payload = Buffer.alloc(1_000_000, 3)
        const reader = yield* Effect.forkChild(collect(s))
        yield* c.writer.write(payload)
        yield* c.writer.end
        const received = yield* Fiber.join(reader)
        assert.isTrue(received.equals(payload))
        yield* s.writer.write("after half-close")
        yield* s.writer.end
        assert.strictEqual((yield* collect(c)).toString(), "after half-close")
        const outcome = yield* c.closed
        assert.strictEqual(outcome._tag, "Clean")
      }).pipe(Effect.scoped)
  )

  it.live("native: a session ticket is in memory once, shared by its event and the session cache, exactly sized", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const sockets = yield* tcpPair()
      const cached: Array<Buffer> = []
      const server = makeNativeEngine("server", sockets.server, { key: issued.key, cert: issued.chain })
      const client = makeNativeEngine(
        "client",
        sockets.client,
        { ca: issued.ca, servername: "localhost" },
        { onSession: (ticket) => cached.push(ticket) }
      )
      const [c, s] = yield* Effect.all(
        [
          TlsConnection.make({ engine: client, transport: Transport.native }),
          TlsConnection.make({ engine: server, transport: Transport.native })
        ],
        { concurrency: 2 }
      )
      // TLS 1.3 tickets follow the handshake: once the server's data arrived, they did.
      yield* s.writer.write("x")
      yield* s.writer.end
      assert.strictEqual((yield* collect(c)).toString(), "x")
      const tickets = yield* c.events.pipe(
        Stream.filter((event) => event._tag === "SessionTicket"),
        Stream.take(cached.length),
        Stream.runCollect,
        Effect.timeout("5 seconds")
      )
      assert.isAtLeast(cached.length, 1)
      assert.strictEqual(tickets.length, cached.length)
      tickets.forEach((event, i) => {
        const kept = cached[i]
        assert.isDefined(kept)
        assert.strictEqual(event.ticket.buffer, kept?.buffer, "the same memory")
        assert.strictEqual(event.ticket.byteOffset, kept?.byteOffset)
        assert.strictEqual(event.ticket.byteLength, kept?.byteLength)
        // Node's own Buffer is a slice of a larger slab, which it would keep alive.
        assert.strictEqual(event.ticket.buffer.byteLength, event.ticket.byteLength, "no larger allocation behind it")
      })
    }).pipe(Effect.scoped)
  )
})
