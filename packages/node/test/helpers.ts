/**
 * Test helpers for the native path: a TLS server on 127.0.0.1 whose
 * connections are handed to the test, a credential from an issued
 * certificate, and readers. Relays, listeners and ports are the test kit's
 * (`Relay`, `Loopback`).
 */
import { assert, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { settleResources } from "./reliability-support.ts"

/** The library's credential of an issued certificate: its chain and its key. */
export const credential = (issued: CertificateAuthority.Issued): TlsOptions.Credential => ({
  cert: issued.chain,
  key: issued.redactedKey
})

/** A server of `issued` running `handler` for every connection, with a short shutdown (handlers here wait for the test). */
export const serveIssued = <E, R>(
  issued: CertificateAuthority.Issued,
  handler: (connection: TlsConnection.TlsConnection, peer: NodeTlsServer.Peer) => Effect.Effect<void, E, R>,
  options: Partial<TlsOptions.ServerOptions> = {}
) => NodeTls.serve({ credentials: [credential(issued)], shutdownTimeout: "100 millis", ...options }, handler)

/** Certificates for SNI tests, from one PKI: `main` (localhost), `api` (api.example), `dynamic` (dyn.example). */
export const sniCertificates = Effect.gen(function* () {
  const pki = yield* CertificateAuthority.make()
  return {
    pki,
    main: yield* pki.issueServer({ commonName: "main" }),
    api: yield* pki.issueServer({ commonName: "api", dnsNames: ["api.example"] }),
    dynamic: yield* pki.issueServer({ commonName: "dynamic", dnsNames: ["dyn.example"] })
  }
})

/** Reads until the end, at most `limit` chunks. */
export const readAll = (connection: TlsConnection.TlsConnection, limit = 1_000_000) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) break
      parts.push(chunk.value)
    }
    return Buffer.concat(parts)
  })

/**
 * A server whose connections are offered to a queue; each connection stays
 * open until the test completes its `release` deferred or the scope closes.
 * `accept` takes the next one, waiting at most 10 seconds.
 */
export const testServer = (options: TlsOptions.ServerOptions) =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
    const release = yield* Deferred.make<void>()
    // Handlers here wait for the test; a short shutdown keeps the scope's close quick.
    const server = yield* NodeTls.serve({ shutdownTimeout: "100 millis", ...options }, (connection) =>
      Effect.andThen(Queue.offer(accepted, connection), Deferred.await(release))
    )
    return {
      server,
      accepted,
      accept: Queue.take(accepted).pipe(Effect.timeout("10 seconds")),
      release,
      port: server.address.port
    }
  })

/** The failure of an effect that must fail. */
export const failure = <A>(effect: Effect.Effect<A, TlsError, Scope.Scope>) => Effect.scoped(Effect.flip(effect))

/** Registers a test of `title` on each path: `native path: <title>` and `duplex path: <title>`. */
export const onBothPaths = (
  title: string,
  test: (path: TlsOptions.Path) => Effect.Effect<unknown, unknown>,
  timeout?: number
) => {
  it.live(`native path: ${title}`, () => test("native"), timeout)
  it.live(`duplex path: ${title}`, () => test("duplex"), timeout)
}

/**
 * The end of a suite that collects its problems: waits for the resources
 * open at `baseline` (see `settleResources`) and adds those still open,
 * runs `after` (more checks), prints the report, and fails on any problem.
 */
export const conclude = (
  baseline: Readonly<Record<string, number>>,
  problems: Array<string>,
  report: ReadonlyArray<string>,
  after: () => void = () => {}
) =>
  Effect.gen(function* () {
    const left = yield* settleResources(baseline)
    if (left.length > 0) problems.push(`resources left: ${left.join(", ")}`)
    after()
    console.log(report.join("\n"))
    assert.deepStrictEqual(problems, [])
  })
