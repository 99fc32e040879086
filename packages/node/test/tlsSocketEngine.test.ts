import * as net from "node:net"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsEvent } from "@effect-tls/core/TlsEvent"
import * as Transport from "@effect-tls/core/Transport"
import { CertificateAuthority } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { makeDuplexEngine, makeNativeEngine } from "../src/internal/engine/index.ts"
import * as NodeInternals from "../src/internal/engine/nodeInternals.ts"
import { own, type SocketOwner } from "../src/internal/engine/owner.ts"
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
      // Followed from before the tickets arrive (the history replays only the
      // latest): the first pull subscribes, and returns the handshake's events.
      const events = yield* Stream.toPull(c.events)
      const tickets: Array<Extract<TlsEvent, { readonly _tag: "SessionTicket" }>> = []
      const keepTickets = (batch: ReadonlyArray<TlsEvent>) => {
        for (const event of batch) if (event._tag === "SessionTicket") tickets.push(event)
      }
      keepTickets(yield* events)
      // TLS 1.3 tickets follow the handshake: once the server's data arrived, they did.
      yield* s.writer.write("x")
      yield* s.writer.end
      assert.strictEqual((yield* collect(c)).toString(), "x")
      yield* Effect.whileLoop({
        while: () => tickets.length < cached.length,
        body: () => events,
        step: keepTickets
      }).pipe(Effect.timeout("5 seconds"))
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

// -----------------------------------------------------------------------------
// Node internals (src/internal/engine/nodeInternals.ts)
// -----------------------------------------------------------------------------

/** One side of an in-memory wire: what is written to it is pushed to its peer. */
class Wire extends Duplex {
  peer: Wire | undefined = undefined
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.peer?.push(chunk)
    callback()
  }
  override _final(callback: () => void): void {
    this.peer?.push(null)
    callback()
  }
}

const wires = (): readonly [Wire, Wire] => {
  const a = new Wire({ allowHalfOpen: true })
  const b = new Wire({ allowHalfOpen: true })
  a.peer = b
  b.peer = a
  return [a, b]
}

const noop = (): void => {}

/** An owner that records only the two hooks of nodeInternals.ts. */
const recorder = (hooks: { readonly onTlsEof?: () => void; readonly onTlsShutdown?: () => void }): SocketOwner => ({
  wake: noop,
  onConnect: noop,
  onData: noop,
  onEnd: noop,
  onFinish: noop,
  onError: noop,
  onClose: noop,
  onSecure: noop,
  onOcspResponse: noop,
  onTicket: noop,
  onKeylog: noop,
  onTlsEof: hooks.onTlsEof ?? noop,
  onTlsShutdown: hooks.onTlsShutdown ?? noop
})

const once = (emitter: NodeJS.EventEmitter, event: string): Promise<ReadonlyArray<unknown>> =>
  new Promise((resolve) => emitter.once(event, (...args: Array<unknown>) => resolve(args)))

/**
 * A client and a server TLSSocket, each on a plain `stream.Duplex` (so Node
 * wraps each in a JSStreamSocket), handshake completed; the server's 'secure'
 * is awaited through `NodeInternals.listenServerSecure`.
 */
const rawPair = Effect.fnUntraced(function* (server: tls.TLSSocketOptions, client: tls.ConnectionOptions = {}) {
  const issued = yield* CertificateAuthority.issueServer()
  const [clientWire, serverWire] = wires()
  const serverSocket = new tls.TLSSocket(serverWire, { key: issued.key, cert: issued.chain, ...server, isServer: true })
  const serverSecure = new Promise<void>((resolve) => NodeInternals.listenServerSecure(serverSocket, resolve))
  const identityChecked: Array<tls.PeerCertificate> = []
  const clientSocket = tls.connect({
    ca: issued.ca,
    servername: "localhost",
    ...client,
    socket: clientWire,
    checkServerIdentity: (hostname, certificate) => {
      identityChecked.push(certificate)
      return tls.checkServerIdentity(hostname, certificate)
    }
  })
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      clientSocket.destroy()
      serverSocket.destroy()
    })
  )
  yield* Effect.promise(() => Promise.all([serverSecure, once(clientSocket, "secureConnect")])).pipe(
    Effect.timeout("5 seconds")
  )
  return { clientSocket, serverSocket, clientWire, serverWire, identityChecked }
})

describe(`Node internals the engine relies on (nodeInternals.ts, checked on Node ${NodeInternals.checkedOn})`, () => {
  it.live("a server TLSSocket emits 'secure'; checkServerIdentity gets the detailed chain", () =>
    Effect.gen(function* () {
      const { identityChecked } = yield* rawPair({})
      const certificate = identityChecked[0]
      assert.isDefined(certificate, "checkServerIdentity was called")
      const detailed = certificate === undefined ? undefined : NodeInternals.detailedView(certificate)
      assert.isDefined(detailed?.issuerCertificate, "the certificate links to its issuer")
    }).pipe(Effect.scoped)
  )

  it.live("ssl.verifyError() reports OpenSSL's verification of a client certificate", () =>
    Effect.gen(function* () {
      const client = yield* CertificateAuthority.issueClient({ commonName: "internals" })
      const untrusted = yield* rawPair(
        { requestCert: true, rejectUnauthorized: false },
        { key: client.key, cert: client.chain }
      )
      const error = NodeInternals.verifyError(untrusted.serverSocket)
      assert.instanceOf(error, Error, "a chain from an unknown CA fails")
      assert.isString(error !== null && "code" in error ? error.code : undefined, "with OpenSSL's code")
      const trusted = yield* rawPair(
        { requestCert: true, rejectUnauthorized: false, ca: client.ca },
        { key: client.key, cert: client.chain }
      )
      assert.isNull(NodeInternals.verifyError(trusted.serverSocket), "a chain from the trusted CA verifies")
    }).pipe(Effect.scoped)
  )

  it.live("a server TLSSocket reports a TLS failure as '_tlsError'", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const [clientWire, serverWire] = wires()
      const serverSocket = new tls.TLSSocket(serverWire, { key: issued.key, cert: issued.chain, isServer: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => serverSocket.destroy()))
      const failed = new Promise<unknown>((resolve) => NodeInternals.listenTlsError(serverSocket, "server", resolve))
      clientWire.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
      const error = yield* Effect.promise(() => failed).pipe(Effect.timeout("5 seconds"))
      assert.instanceOf(error, Error)
    }).pipe(Effect.scoped)
  )

  it.live("a server TLSSocket passes its other errors on as '_tlsError' (the engine listens to that name only)", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const [, serverWire] = wires()
      const serverSocket = new tls.TLSSocket(serverWire, { key: issued.key, cert: issued.chain, isServer: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => serverSocket.destroy()))
      const failed = new Promise<unknown>((resolve) => NodeInternals.listenTlsError(serverSocket, "server", resolve))
      const cause = new Error("the transport broke")
      serverSocket.destroy(cause)
      const error = yield* Effect.promise(() => failed).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(error, cause)
    }).pipe(Effect.scoped)
  )

  it.live("push(null) marks OpenSSL's EOF before the duplex's 'end' for close_notify, after it for a truncation", () =>
    Effect.gen(function* () {
      const seen: Array<boolean> = []
      for (const truncate of [false, true]) {
        const { clientSocket, serverSocket, serverWire } = yield* rawPair({})
        const eof = new Promise<void>((resolve) =>
          own(
            serverSocket,
            recorder({
              onTlsEof: () => {
                seen.push(NodeInternals.eofFromCloseNotify(serverWire))
                resolve()
              }
            })
          )
        )
        NodeInternals.trackEof(serverSocket)
        serverSocket.resume()
        if (truncate) serverWire.push(null)
        else clientSocket.end()
        yield* Effect.promise(() => eof).pipe(Effect.timeout("5 seconds"))
      }
      assert.deepStrictEqual(seen, [true, false])
    }).pipe(Effect.scoped)
  )

  it.live("the TLS shutdown runs in net.Socket's _final, called on the instance, before the duplex is ended", () =>
    Effect.gen(function* () {
      assert.strictEqual(tls.TLSSocket.prototype._final, net.Socket.prototype._final)
      const { clientSocket, clientWire } = yield* rawPair({})
      const order: Array<string> = []
      own(clientSocket, recorder({ onTlsShutdown: () => order.push("shutdown") }))
      NodeInternals.trackShutdown(clientSocket)
      const wireWrite = clientWire.write.bind(clientWire)
      clientWire.write = (chunk: unknown, ...rest: Array<never>): boolean => {
        order.push("write")
        return wireWrite(chunk, ...rest)
      }
      const finished = once(clientWire, "finish")
      clientSocket.end()
      yield* Effect.promise(() => finished).pipe(Effect.timeout("5 seconds"))
      // The shutdown, then close_notify's write, then the duplex's end.
      assert.deepStrictEqual(order.slice(0, 2), ["shutdown", "write"])
    }).pipe(Effect.scoped)
  )

  it.live.skipIf(!NodeInternals.emptyWriteTellsOutput)(
    "an empty write on a native TLSSocket completes after the writes before it, once they left it",
    () =>
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const accepted: Array<tls.TLSSocket> = []
        let onAccepted: (socket: tls.TLSSocket) => void = noop
        const serverSide = new Promise<tls.TLSSocket>((resolve) => {
          onAccepted = resolve
        })
        const server = tls.createServer({ key: issued.key, cert: issued.chain }, (socket) => {
          // Not read until the empty write is made: the client's output stays pending.
          socket.pause()
          accepted.push(socket)
          onAccepted(socket)
        })
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            for (const socket of accepted) socket.destroy()
            server.close()
          })
        )
        yield* Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)))
        const { port } = server.address() as net.AddressInfo
        const client = tls.connect({ host: "127.0.0.1", port, ca: issued.ca, servername: "localhost" })
        yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
        yield* Effect.promise(() => once(client, "secureConnect")).pipe(Effect.timeout("5 seconds"))
        const order: Array<string> = []
        const chunk = Buffer.alloc(1024 * 1024, 1)
        // More than the kernel's buffers take, so the last writes stay in the TLSSocket.
        for (let i = 0; i < 31; i++) client.write(chunk)
        client.write(chunk, () => order.push("last write"))
        assert.isAbove(client.writableLength, 0, "output is pending")
        const left = new Promise<void>((resolve) =>
          NodeInternals.afterPendingOutput(client, () => {
            order.push(`empty write, ${client.writableLength} bytes pending`)
            resolve()
          })
        )
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        assert.deepStrictEqual(order, [], "nothing completes while the peer does not read")
        const serverSocket = yield* Effect.promise(() => serverSide).pipe(Effect.timeout("5 seconds"))
        serverSocket.resume()
        yield* Effect.promise(() => left).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(order, ["last write", "empty write, 0 bytes pending"])
      }).pipe(Effect.scoped)
  )

  it.live("JSStreamSocket destroys the TLSSocket when its duplex closes (hence autoDestroy: false)", () =>
    Effect.gen(function* () {
      const { serverSocket, serverWire } = yield* rawPair({})
      const closed = once(serverSocket, "close")
      serverWire.destroy()
      yield* Effect.promise(() => closed).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(serverSocket.destroyed)
      assert.isFalse(NodeInternals.duplexOptions.autoDestroy)
    }).pipe(Effect.scoped)
  )
})
