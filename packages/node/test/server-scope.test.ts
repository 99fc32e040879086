/**
 * The server's scope and context: the SNI resolver runs as a fiber of the
 * scope the acceptor (or server) was made in, with that context's services,
 * and is interrupted when the scope closes; `join` ends once the server has
 * shut down.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"

const credential = (issued: CertificateAuthority.Issued): TlsOptions.Credential => ({
  cert: issued.chain,
  key: issued.redactedKey
})

/** A value the server's context provides; a detached runtime would see the default. */
const Tenant = Context.Reference<string>("effect-tls/test/Tenant", { defaultValue: () => "no context" })

describe("the server's scope and context", () => {
  it.live("the SNI resolver sees the services of the context the acceptor was made in", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const main = yield* pki.issueServer({ commonName: "main" })
      const dynamic = yield* pki.issueServer({ commonName: "dynamic", dnsNames: ["dyn.example"] })
      const seen = yield* Deferred.make<string>()
      const acceptor = yield* NodeTlsServer.makeAcceptor({
        credentials: [credential(main)],
        resolveSni: () =>
          Effect.gen(function* () {
            yield* Deferred.succeed(seen, yield* Tenant)
            return [credential(dynamic)]
          })
      }).pipe(Effect.provideService(Tenant, "the server's"))
      const pair = MemoryTransport.makePair()
      const [client] = yield* Effect.all(
        [NodeTls.upgradeClient(pair.a, { ca: pki.root, servername: "dyn.example" }), acceptor.upgrade(pair.b)],
        { concurrency: 2 }
      )
      assert.include(client.session.peerCertificates[0]?.subject ?? "", "CN=dynamic")
      assert.strictEqual(yield* Deferred.await(seen), "the server's")
    }).pipe(Effect.scoped)
  )

  it.live("closing the acceptor's scope interrupts a lookup in progress, and the handshake waiting for it fails", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const main = yield* pki.issueServer({ commonName: "main" })
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const acceptorScope = yield* Scope.make()
      const acceptor = yield* NodeTlsServer.makeAcceptor({
        credentials: [credential(main)],
        resolveSni: () =>
          Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
      }).pipe(Scope.provide(acceptorScope))
      const pair = MemoryTransport.makePair()
      const server = yield* Effect.forkChild(Effect.exit(acceptor.upgrade(pair.b)))
      const client = yield* Effect.forkChild(
        Effect.exit(NodeTls.upgradeClient(pair.a, { ca: pki.root, servername: "unknown.example" }))
      )
      yield* Deferred.await(started)
      yield* Scope.close(acceptorScope, Exit.void)
      yield* Deferred.await(interrupted)
      const serverExit = yield* Fiber.join(server)
      assert.isTrue(Exit.isFailure(serverExit), "the server's handshake fails")
      assert.isTrue(Exit.isFailure(yield* Fiber.join(client)), "the client's handshake fails")
    }).pipe(Effect.scoped, Effect.timeout("10 seconds"))
  )

  it.live("join succeeds once the server has shut down", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const main = yield* pki.issueServer()
      const serverScope = yield* Scope.make()
      const server = yield* NodeTls.serve(
        { credentials: [credential(main)], shutdownTimeout: "100 millis" },
        () => Effect.void
      ).pipe(Scope.provide(serverScope))
      const joined = yield* Effect.forkChild(server.join)
      yield* Effect.sleep("20 millis")
      assert.isUndefined(joined.pollUnsafe(), "join waits while the server runs")
      yield* Scope.close(serverScope, Exit.void)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(joined)))
    }).pipe(Effect.timeout("10 seconds"))
  )
})
