import * as net from "node:net"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as TlsSession from "@effect-tls/core/TlsSession"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import { CertificateAuthority, Loopback } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import { credential, readAll, serveIssued, sniCertificates, testServer } from "./helpers.ts"
import { activeResources, settleResources } from "./reliability-support.ts"

/** A tracer that keeps every span it makes, for tests of which spans exist. */
const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

describe("NodeTls client and server", () => {
  it.live("session info on both sides: protocol, cipher, group, ALPN, SNI, chain, exporter", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const { port, accepted } = yield* testServer({ credentials: [credential(issued)], alpn: ["h2", "http/1.1"] })
      const client = yield* NodeTls.connect({
        host: "127.0.0.1",
        port,
        ca: issued.ca,
        servername: "localhost",
        alpn: ["http/1.1"]
      })
      const server = yield* Queue.take(accepted)
      const s = client.session
      assert.strictEqual(s.protocol, "TLSv1.3")
      assert.strictEqual(s.alpn, "http/1.1")
      assert.strictEqual(server.session.alpn, "http/1.1")
      assert.strictEqual(s.servername, "localhost")
      assert.strictEqual(server.session.servername, "localhost")
      assert.isString(s.cipher)
      assert.isString(s.group)
      assert.isTrue(s.peerVerified)
      assert.isFalse(s.resumed)
      const leaf = s.peerCertificates[0]
      assert.isDefined(leaf)
      assert.include(leaf?.subjectAltNames ?? [], "IP:127.0.0.1")
      assert.match(leaf?.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
      assert.isTrue((leaf?.validTo.getTime() ?? 0) > Date.now())
      const a = yield* TlsSession.tlsExporterChannelBinding(s)
      const b = yield* TlsSession.tlsExporterChannelBinding(server.session)
      assert.strictEqual(a.length, 32)
      assert.deepStrictEqual(Buffer.from(a), Buffer.from(b))
      // A function value of the session, usable on its own.
      const { exportKeyingMaterial } = s
      const c = yield* exportKeyingMaterial({
        label: TlsSession.TLS_EXPORTER_LABEL,
        length: 32,
        context: new Uint8Array(0)
      })
      assert.deepStrictEqual(Buffer.from(c), Buffer.from(a))
    }).pipe(Effect.scoped)
  )

  it.live("mutual TLS: the verified client chain is in the server's session", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const clientCert = yield* CertificateAuthority.issueClient({ commonName: "alice" })
      const { port, accepted } = yield* testServer({
        credentials: [credential(issued)],
        clientAuth: { mode: "require", ca: issued.ca }
      })
      const client = yield* NodeTls.connect({
        host: "127.0.0.1",
        port,
        ca: issued.ca,
        credential: { cert: clientCert.chain, key: clientCert.redactedKey }
      })
      const server = yield* Queue.take(accepted)
      assert.isTrue(server.session.peerVerified)
      assert.include(server.session.peerCertificates[0]?.subject ?? "", "CN=alice")
      yield* client.writer.write("ping")
      assert.strictEqual(Buffer.from(Option.getOrThrow(yield* server.reader.read)).toString(), "ping")
    }).pipe(Effect.scoped)
  )

  it.live("server: the handler gets the TCP peer (address and port of the client's socket)", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const peers = yield* Queue.unbounded<NodeTlsServer.Peer>()
      const server = yield* NodeTls.serve({ credentials: [credential(issued)] }, (connection, peer) =>
        Effect.andThen(Queue.offer(peers, peer), connection.writer.end)
      )
      // A node:tls client over a TCP socket whose local port the test knows.
      const localPort = yield* Effect.acquireRelease(
        Effect.callback<tls.TLSSocket>((resume) => {
          const tcp = net.connect({ host: "127.0.0.1", port: server.address.port }, () => {
            const client = tls.connect({ socket: tcp, ca: issued.ca, servername: "localhost" }, () =>
              resume(Effect.succeed(client))
            )
          })
        }),
        (client) => Effect.sync(() => client.destroy())
      ).pipe(Effect.map((client) => client.localPort))
      const peer = yield* Queue.take(peers).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(peer.address, "127.0.0.1")
      assert.strictEqual(peer.family, "IPv4")
      assert.strictEqual(peer.port, localPort)
    }).pipe(Effect.scoped)
  )

  it.live("client service: one configuration, repeated connections resume with TLS 1.3 tickets", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(issued, (connection) =>
        Effect.andThen(connection.writer.write("hello"), connection.writer.end)
      )
      const client = yield* NodeTlsClient.make({ ca: issued.ca })
      const once = Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* client.connect({ host: "127.0.0.1", port: server.address.port })
          const text = (yield* readAll(connection)).toString()
          assert.strictEqual(text, "hello")
          const { resumed, peerCertificates, peerVerified } = connection.session
          return { resumed, peerVerified, chain: peerCertificates.map((certificate) => certificate.fingerprint256) }
        })
      )
      const first = yield* once
      assert.isFalse(first.resumed)
      assert.strictEqual(first.chain.length, 3, "leaf, intermediate and the root it was verified against")
      assert.isAtLeast(yield* client.cachedSessions, 1)
      const second = yield* once
      assert.isTrue(second.resumed)
      // A resumed handshake verifies nothing again: it reports the chain verified for the session.
      assert.deepStrictEqual(second.chain, first.chain)
      assert.isTrue(second.peerVerified)
    }).pipe(Effect.scoped)
  )

  it.live("client: one connect effect, run again, resumes the session the first run stored (both paths)", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(issued, (connection) =>
        Effect.andThen(connection.writer.write("hello"), connection.writer.end)
      )
      for (const path of ["native", "duplex"] as const) {
        const client = yield* NodeTlsClient.make({ ca: issued.ca, path })
        // One value, run twice: whatever the connect effect reads from the client (its session cache) must
        // be read when it runs, not when it is built.
        const connect = client.connect({ host: "127.0.0.1", port: server.address.port })
        const once = Effect.scoped(
          Effect.flatMap(connect, (connection) =>
            Effect.map(readAll(connection), (bytes) => ({
              text: bytes.toString(),
              resumed: connection.session.resumed
            }))
          )
        )
        const first = yield* once
        const second = yield* once
        assert.deepStrictEqual(
          [first, second],
          [
            { text: "hello", resumed: false },
            { text: "hello", resumed: true }
          ],
          path
        )
      }
    }).pipe(Effect.scoped)
  )

  it.live("NodeTls.connect: calls with equal options share a context and resume; other options do not", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const stranger = yield* CertificateAuthority.make({ name: "another issuer" })
      const server = yield* serveIssued(issued, (connection) =>
        Effect.andThen(connection.writer.write("hello"), connection.writer.end)
      )
      const port = server.address.port
      const resumed = (options: Omit<NodeTls.ConnectOptions, "host" | "port">) =>
        Effect.scoped(
          Effect.flatMap(NodeTls.connect({ host: "127.0.0.1", port, ...options }), (connection) =>
            Effect.map(readAll(connection), () => connection.session.resumed)
          )
        )
      // A fresh options object each time: equal options, not the same object, share.
      assert.isFalse(yield* resumed({ ca: issued.ca, alpn: ["a"] }))
      assert.isTrue(yield* resumed({ ca: issued.ca, alpn: ["a"] }))
      assert.isTrue(yield* resumed({ ca: issued.ca, alpn: ["a"], path: "duplex" }), "the path is per call")
      assert.isFalse(yield* resumed({ ca: issued.ca, alpn: ["a"], sessionCache: false }))
      assert.isFalse(yield* resumed({ ca: issued.ca, alpn: ["b"] }), "other options, another context")
      // A session made without verification is never offered by a verifying configuration.
      assert.isFalse(yield* resumed({ ca: stranger.root, insecureSkipVerify: true }))
      assert.isTrue(yield* resumed({ ca: stranger.root, insecureSkipVerify: true }))
      const strict = yield* Effect.flip(resumed({ ca: stranger.root }))
      assert.strictEqual(strict._tag, "TlsHandshakeError")
    }).pipe(Effect.scoped)
  )

  it.live("client: connections of one client to one server share one copy of its chain's DER", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const one = yield* pki.issueServer({ commonName: "one" })
      const two = yield* pki.issueServer({ commonName: "two" })
      const serve = (issued: CertificateAuthority.Issued) => serveIssued(issued, () => Effect.never)
      const servers = [yield* serve(one), yield* serve(two)] as const
      // No session cache: every connection is a full handshake that verifies the chain anew.
      const client = yield* NodeTlsClient.make({ ca: pki.root, sessionCache: false })
      const other = yield* NodeTlsClient.make({ ca: pki.root, sessionCache: false })
      const chain = (via: NodeTlsClient.Client, server: 0 | 1) =>
        Effect.map(via.connect({ host: "127.0.0.1", port: servers[server].address.port }), (connection) =>
          connection.session.peerCertificates.map((certificate) => certificate.der)
        )
      const a = yield* chain(client, 0)
      const b = yield* chain(client, 1)
      const c = yield* chain(client, 0)
      const d = yield* chain(other, 0)
      assert.strictEqual(a.length, 3)
      const sameMemory = (x: ReadonlyArray<Uint8Array>, y: ReadonlyArray<Uint8Array>) =>
        x.length === y.length && x.every((der, i) => der.buffer === y[i]?.buffer)
      const sameBytes = (x: ReadonlyArray<Uint8Array>, y: ReadonlyArray<Uint8Array>) =>
        x.length === y.length && x.every((der, i) => Buffer.from(der).equals(Buffer.from(y[i] ?? [])))
      // Another server in between does not stop the sharing.
      assert.isTrue(sameMemory(a, c), "one client, one server: one copy")
      assert.isFalse(sameBytes(a, b), "another server has another chain")
      assert.isTrue(sameBytes(a, d))
      assert.isFalse(sameMemory(a, d), "clients do not share with each other")
    }).pipe(Effect.scoped)
  )

  it.live(
    "server: the NodeTlsServer.connection span covers accept and handshake and ends before the handler runs",
    () =>
      Effect.gen(function* () {
        const { spans, tracer } = recordingTracer()
        const issued = yield* CertificateAuthority.issueServer()
        const seen = yield* Deferred.make<{ readonly handlerSpan: string; readonly connection: Tracer.NativeSpan }>()
        const server = yield* serveIssued(issued, (connection) =>
          Effect.gen(function* () {
            const current = yield* Effect.option(Effect.currentSpan)
            const span = spans.find((span) => span.name === "NodeTlsServer.connection")
            if (span !== undefined) {
              yield* Deferred.succeed(seen, {
                handlerSpan: current._tag === "Some" ? current.value.name : "none",
                connection: span
              })
            }
            yield* connection.writer.end
          })
        ).pipe(Effect.withSpan("serve site"), Effect.withTracer(tracer))
        yield* Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: issued.ca }))
        const { handlerSpan, connection } = yield* Deferred.await(seen).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(handlerSpan, "serve site", "the handler runs outside the span, under serve's")
        assert.strictEqual(connection.status._tag, "Ended", "ended when the handshake was done")
        assert.strictEqual(connection.attributes.get("client.address"), "127.0.0.1")
        assert.isNumber(connection.attributes.get("client.port"))
        const handshake = spans.find(
          (span) => span.name === "TlsConnection.handshake" && span.attributes.get("tls.role") === "server"
        )
        assert.strictEqual(handshake?.parent._tag === "Some" ? handshake.parent.value : undefined, connection)
      }).pipe(Effect.scoped)
  )

  it.live("client: spans are made when a tracer is installed and tracing is enabled, and only then", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(issued, (connection) => connection.writer.end)
      const connect = Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: issued.ca }))
      yield* connect.pipe(Effect.withTracer(tracer))
      const names = spans.map((span) => span.name)
      assert.includeMembers(names, ["NodeTlsClient.connect", "TlsConnection.handshake"])
      const client = spans.find((span) => span.name === "NodeTlsClient.connect")
      assert.strictEqual(client?.attributes.get("server.port"), server.address.port)
      assert.strictEqual(client?.status._tag, "Ended")
      const before = spans.length
      yield* connect.pipe(Effect.withTracer(tracer), Effect.withTracerEnabled(false))
      assert.strictEqual(spans.length, before, "tracing disabled: no span")
    }).pipe(Effect.scoped)
  )

  it.live("server: tickets off means no resumption", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(
        issued,
        (connection) => Effect.andThen(connection.writer.write("x"), connection.writer.end),
        { tickets: false }
      )
      const client = yield* NodeTlsClient.make({ ca: issued.ca })
      const once = Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* client.connect({ host: "127.0.0.1", port: server.address.port })
          yield* readAll(connection)
          return connection.session.resumed
        })
      )
      assert.isFalse(yield* once)
      assert.isFalse(yield* once)
    }).pipe(Effect.scoped)
  )

  it.live("server: SNI picks per-name certificates, the resolver is an Effect, reload swaps credentials", () =>
    Effect.gen(function* () {
      const { pki, main, api, dynamic } = yield* sniCertificates
      const next = yield* pki.issueServer({ commonName: "next" })
      const server = yield* NodeTls.serve(
        {
          credentials: [credential(main)],
          sni: { "api.example": [credential(api)] },
          resolveSni: (name) => Effect.succeed(name === "dyn.example" ? [credential(dynamic)] : undefined),
          shutdownTimeout: "100 millis"
        },
        (connection) => connection.writer.end
      )
      const subject = (servername: string) =>
        Effect.scoped(
          Effect.map(
            NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: pki.root, servername }),
            (connection) => connection.session.peerCertificates[0]?.subject ?? ""
          )
        )
      assert.include(yield* subject("localhost"), "CN=main")
      assert.include(yield* subject("api.example"), "CN=api")
      assert.include(yield* subject("dyn.example"), "CN=dynamic")
      yield* server.reload([credential(next)])
      assert.include(yield* subject("localhost"), "CN=next")
      const bad = yield* Effect.flip(server.reload([{ cert: "nope", key: Redacted.make("nope") }]))
      assert.strictEqual(bad._tag, "TlsConfigError")
      assert.include(yield* subject("localhost"), "CN=next")
    }).pipe(Effect.scoped)
  )

  it.live("server: a failing or defecting handler closes only its own connection", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(issued, (connection) =>
        Effect.gen(function* () {
          const line = Buffer.from(yield* connection.reader.readUntil("\n")).toString()
          if (line === "fail") return yield* Effect.fail("handler failed")
          if (line === "die") return yield* Effect.die("handler died")
          yield* connection.writer.write(`echo ${line}`)
          yield* connection.writer.end
        })
      )
      const call = (line: string) =>
        Effect.scoped(
          Effect.gen(function* () {
            const connection = yield* NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: issued.ca })
            yield* connection.writer.write(`${line}\n`)
            return yield* Effect.result(readAll(connection))
          })
        )
      const [failed, died, fine] = yield* Effect.all([call("fail"), call("die"), call("ok")], { concurrency: 3 })
      assert.strictEqual(failed._tag === "Success" ? failed.success.length : 0, 0)
      assert.strictEqual(died._tag === "Success" ? died.success.length : 0, 0)
      assert.strictEqual(fine._tag === "Success" ? fine.success.toString() : "", "echo ok")
    }).pipe(Effect.scoped)
  )

  it.live(
    "server: graceful shutdown waits until the deadline, then closes an unfinished connection with close_notify",
    () =>
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const holder = yield* Deferred.make<number>()
        const release = yield* Deferred.make<void>()
        const server = yield* Effect.forkChild(
          Effect.scoped(
            Effect.gen(function* () {
              const s = yield* NodeTls.serve(
                { credentials: [credential(issued)], shutdownTimeout: "300 millis" },
                (connection) => Effect.andThen(connection.writer.write("working"), Effect.never)
              )
              yield* Deferred.succeed(holder, s.address.port)
              yield* Deferred.await(release)
            })
          )
        )
        const port = yield* Deferred.await(holder)
        const client = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca })
        assert.strictEqual(Buffer.from(Option.getOrThrow(yield* client.reader.read)).toString(), "working")
        const start = Date.now()
        const ending = yield* Effect.forkChild(client.reader.read)
        yield* Deferred.succeed(release, undefined)
        // While it waits for the unfinished connection, the server accepts no new one.
        let refusedWhileDraining = false
        for (let attempt = 0; attempt < 50 && !refusedWhileDraining; attempt++) {
          const tried = yield* Effect.exit(Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca })))
          refusedWhileDraining = Exit.isFailure(tried) && ending.pollUnsafe() === undefined
        }
        assert.isTrue(refusedWhileDraining, "a connect during the shutdown wait was refused")
        // The handler never ends: after the deadline the server closes it with close_notify.
        const end = yield* Fiber.join(ending)
        assert.isTrue(Option.isNone(end))
        yield* Fiber.join(server)
        assert.isAtLeast(Date.now() - start, 250)
        const refused = yield* Effect.flip(Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca })))
        assert.strictEqual(refused._tag, "TlsTransportError")
      }).pipe(Effect.scoped)
  )

  it.live("server: a client that never sends a ClientHello is dropped at the handshake timeout", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const { port } = yield* testServer({
        credentials: [credential(issued)],
        connection: { handshakeTimeout: "200 millis" }
      })
      const closed = yield* Effect.callback<number>((resume) => {
        const start = Date.now()
        const socket = net.connect({ host: "127.0.0.1", port })
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(Date.now() - start)))
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("5 seconds"))
      assert.isAtLeast(closed, 150)
    }).pipe(Effect.scoped)
  )

  it.live("client: connects interrupted at spread moments, on both paths, leave no socket or timer behind", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* serveIssued(issued, (connection) => connection.writer.end)
      const baseline = activeResources()
      let interrupted = 0
      for (const path of ["native", "duplex"] as const) {
        const client = yield* NodeTlsClient.make({ ca: issued.ca, path })
        for (let i = 0; i < 40; i++) {
          const fiber = yield* Effect.forkChild(
            Effect.scoped(client.connect({ host: "127.0.0.1", port: server.address.port }))
          )
          // Not a synchronisation: these spread the interruption over DNS, the
          // TCP connect, the hand-over and the handshake.
          if (i % 4 === 1) for (let k = 0; k < i; k++) yield* Effect.yieldNow
          if (i % 4 === 2) yield* Effect.sleep(`${i % 5} millis`)
          if (i % 4 === 3) yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
          const exit = yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
          if (Exit.hasInterrupts(exit)) interrupted++
        }
      }
      assert.isAtLeast(interrupted, 20, "most connects were interrupted")
      assert.deepStrictEqual(yield* settleResources(baseline), [])
      assert.strictEqual(yield* server.connections, 0)
    }).pipe(Effect.scoped)
  )

  it.live("client: interruption during the handshake releases the socket at once", () =>
    Effect.gen(function* () {
      const { port, accept } = yield* Loopback.listen()
      const fiber = yield* Effect.forkChild(Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port })))
      const peer = yield* accept.pipe(Effect.timeout("5 seconds"))
      // The client is in the handshake once its ClientHello arrived.
      yield* Effect.callback<void>((resume) => {
        const arrived = () => resume(Effect.void)
        peer.once("readable", arrived)
        return Effect.sync(() => peer.off("readable", arrived))
      }).pipe(Effect.timeout("5 seconds"))
      const peerClosed = Effect.callback<void>((resume) => {
        if (peer.readableEnded || peer.destroyed) return resume(Effect.void)
        peer.once("end", () => resume(Effect.void))
        peer.once("close", () => resume(Effect.void))
        peer.resume()
      })
      yield* Fiber.interrupt(fiber)
      yield* peerClosed.pipe(Effect.timeout("1 second"))
    }).pipe(Effect.scoped)
  )
})
