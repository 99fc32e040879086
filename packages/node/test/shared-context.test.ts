/**
 * One configuration, both paths: the client's `upgrade` and the server's
 * acceptor share a SecureContext and a session cache per configuration, the
 * SNI resolver is consulted on the duplex path, and `path: "duplex"` runs
 * `connect`/`serve` on the duplex path over TCP.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Relay } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { clientContext, serverContext } from "../src/internal/context.ts"
import { decodeClient, decodeServerConnection } from "../src/internal/options.ts"
import { credential, readAll, serveIssued, sniCertificates } from "./helpers.ts"

/**
 * One connection over a fresh memory pair: the server side (forked) writes
 * `hello` and ends; the client reads to the end, so a TLS 1.3 ticket sent
 * before the data has reached the client's cache. Returns the client's session.
 */
const exchange = (
  serverSide: (transport: MemoryTransport.Pair["b"]) => Effect.Effect<TlsConnection, unknown, Scope.Scope>,
  clientSide: (transport: MemoryTransport.Pair["a"]) => Effect.Effect<TlsConnection, unknown, Scope.Scope>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pair = MemoryTransport.makePair()
      const server = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            const connection = yield* serverSide(pair.b)
            yield* connection.writer.write("hello")
            yield* connection.writer.end
            yield* connection.closed
            return connection.session
          })
        )
      )
      const connection = yield* clientSide(pair.a)
      assert.strictEqual((yield* readAll(connection)).toString(), "hello")
      yield* connection.writer.end
      const serverSession = yield* Fiber.join(server)
      return { client: connection.session, server: serverSession }
    })
  )

describe("one configuration for both paths", () => {
  it.effect("a client configuration builds one SecureContext; every engine of it, on either path, uses it", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const client = yield* clientContext(yield* decodeClient({ ca: issued.ca }))
      const a = client.engineOptions({ host: "localhost", port: 443 })
      const b = client.engineOptions({ host: "other.example", servername: "x.example", alpn: ["h2"] })
      assert.strictEqual(a.tls.secureContext, client.secureContext)
      assert.strictEqual(b.tls.secureContext, client.secureContext)
      assert.strictEqual(b.tls.servername, "x.example")
      assert.deepStrictEqual(b.tls.ALPNProtocols, ["h2"])
      const server = yield* serverContext(yield* decodeServerConnection({ credentials: [credential(issued)] }))
      assert.strictEqual(server.engineOptions().tls.secureContext, server.engineOptions().tls.secureContext)
      // The idle-timeout default applies to every server engine, native or not.
      assert.strictEqual(server.engineOptions().extras.idleTimeout, 5 * 60 * 1000)
    })
  )

  it.live("duplex path: a client's upgrade resumes against an acceptor (shared context and session cache)", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const acceptor = yield* NodeTlsServer.makeAcceptor({ credentials: [credential(issued)] })
      const client = yield* NodeTlsClient.make({ ca: issued.ca })
      const once = exchange(acceptor.upgrade, (transport) => client.upgrade(transport, { host: "localhost" }))
      const first = yield* once
      assert.isFalse(first.client.resumed)
      assert.isFalse(first.server.resumed)
      assert.isAtLeast(yield* client.cachedSessions, 1)
      const second = yield* once
      assert.isTrue(second.client.resumed)
      assert.isTrue(second.server.resumed)
      assert.isTrue(second.client.peerVerified)
    })
  )

  it.live(
    "duplex path: one-shot NodeTls.upgradeServer keeps no ticket key, so even a cached ticket does not resume",
    () =>
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const options = { credentials: [credential(issued)] }
        const client = yield* NodeTlsClient.make({ ca: issued.ca })
        const once = exchange(
          (transport) => NodeTls.upgradeServer(transport, options),
          (transport) => client.upgrade(transport)
        )
        assert.isFalse((yield* once).client.resumed)
        assert.isAtLeast(yield* client.cachedSessions, 1)
        assert.isFalse((yield* once).client.resumed)
      })
  )

  it.live("duplex path: the server consults per-name certificates, then the SNI resolver, then the default", () =>
    Effect.gen(function* () {
      const { pki, main, api, dynamic } = yield* sniCertificates
      const asked = yield* Queue.unbounded<string>()
      const options: TlsOptions.ServerConnectionOptions = {
        credentials: [credential(main)],
        sni: { "api.example": [credential(api)] },
        resolveSni: (name) =>
          Effect.as(Queue.offer(asked, name), name === "dyn.example" ? [credential(dynamic)] : undefined)
      }
      const acceptor = yield* NodeTlsServer.makeAcceptor(options)
      const client = yield* NodeTlsClient.make({ ca: pki.root, sessionCache: false })
      const subject = (servername: string, serverSide = acceptor.upgrade) =>
        Effect.map(
          exchange(serverSide, (transport) => client.upgrade(transport, { servername })),
          (sessions) => sessions.client.peerCertificates[0]?.subject ?? ""
        )
      assert.include(yield* subject("api.example"), "CN=api")
      assert.include(yield* subject("dyn.example"), "CN=dynamic")
      assert.include(yield* subject("localhost"), "CN=main")
      // The one-shot STARTTLS entry point consults the resolver too.
      assert.include(
        yield* subject("dyn.example", (transport) => NodeTls.upgradeServer(transport, options)),
        "CN=dynamic"
      )
      // The acceptor asked once per unknown name and kept the answers; the one-shot server asked again.
      assert.deepStrictEqual(Array.from(yield* Queue.takeAll(asked)), ["dyn.example", "localhost", "dyn.example"])
    })
  )

  it.live("a running server's upgrade serves other transports with the listener's contexts, reloads included", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const first = yield* pki.issueServer({ commonName: "first" })
      const next = yield* pki.issueServer({ commonName: "next" })
      const server = yield* serveIssued(first, (connection) => connection.writer.end)
      const client = yield* NodeTlsClient.make({ ca: pki.root })
      const subject = Effect.map(
        exchange(server.upgrade, (transport) => client.upgrade(transport)),
        (sessions) => sessions.client.peerCertificates[0]?.subject ?? ""
      )
      assert.include(yield* subject, "CN=first")
      yield* server.reload([credential(next)])
      assert.include(yield* subject, "CN=next")
      // The listener's connections were not counted: upgrade runs in the caller's scope.
      assert.strictEqual(yield* server.connections, 0)
    }).pipe(Effect.scoped)
  )

  it.live("path: duplex over TCP: client connect and serve; a FIN without close_notify is truncation", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const accepted = yield* Queue.unbounded<TlsConnection>()
      const release = yield* Deferred.make<void>()
      const server = yield* serveIssued(
        issued,
        (connection) => Effect.andThen(Queue.offer(accepted, connection), Deferred.await(release)),
        { path: "duplex" }
      )
      const port = server.address.port

      // The duplex path on both sides, over TCP, with a clean close.
      const client = yield* NodeTlsClient.make({ ca: issued.ca, path: "duplex" })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* client.connect({ host: "127.0.0.1", port })
          const peer = yield* Queue.take(accepted)
          yield* connection.writer.write("ping")
          assert.strictEqual(Buffer.from(Option.getOrThrow(yield* peer.reader.read)).toString(), "ping")
          yield* connection.writer.end
          assert.isTrue(Option.isNone(yield* peer.reader.read))
        })
      )

      // Through a relay that ends the client-to-server direction with a bare
      // FIN: the duplex server sees every byte and reports truncation (the
      // native path would report a clean end).
      const relay = yield* Relay.make(port)
      yield* client.connect({ host: "127.0.0.1", port: relay.port })
      const peer = yield* Queue.take(accepted)
      yield* relay.end("toServer")
      const error = yield* Effect.flip(peer.reader.read)
      assert.strictEqual(error._tag, "TlsTruncationError")
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped)
  )
})
