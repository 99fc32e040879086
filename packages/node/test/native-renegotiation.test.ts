/**
 * TLS 1.2 renegotiation is refused in both roles, against OpenSSL's tools:
 * `R` on the stdin of `s_client` (the client renegotiates) and of `s_server`
 * (the server sends a HelloRequest).
 */
import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { serveIssued } from "./helpers.ts"
import { hasOpenssl } from "./interop-support.ts"

/** The connection ended with a `TlsProtocolError` of `reason` whose `detail` (its code, its alert) is `expected`. */
const endedWith = (
  connection: TlsConnection.TlsConnection,
  reason: string,
  detail: (error: TlsError) => unknown,
  expected: unknown
) =>
  Effect.gen(function* () {
    const closed = yield* connection.closed
    assert.strictEqual(closed._tag, "Failed")
    if (closed._tag === "Failed") {
      assert.strictEqual(closed.error._tag, "TlsProtocolError")
      assert.strictEqual(closed.error.reason._tag, reason)
      assert.strictEqual(detail(closed.error), expected)
    }
  })

describe.skipIf(!hasOpenssl)("native path: renegotiation refused (needs openssl, stdbuf)", () => {
  it.live("server: s_client -tls1_2 asks to renegotiate (R); the handshake is refused and the connection ends", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const files = yield* TempFiles.pem(issued)
      const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
      const outcome = yield* Deferred.make<Exit.Exit<Option.Option<Uint8Array>, unknown>>()
      const server = yield* serveIssued(
        issued,
        (connection) =>
          Effect.gen(function* () {
            yield* Queue.offer(accepted, connection)
            // Reads until the end or an error: what renegotiation does to the read half.
            for (let i = 0; i < 100; i++) {
              const exit = yield* Effect.exit(connection.reader.read)
              if (Exit.isFailure(exit) || Option.isNone(exit.value)) {
                yield* Deferred.succeed(outcome, exit)
                return
              }
            }
          }),
        { maxVersion: "TLSv1.2" }
      )
      const peer = yield* Peer.opensslClient({
        port: server.address.port,
        ca: files.ca,
        servername: "localhost",
        verify: false,
        args: ["-tls1_2"]
      })
      const connection = yield* Queue.take(accepted).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(connection.session.protocol, "TLSv1.2")
      yield* peer.waitFor(/Verify return code: 0/)
      yield* peer.write("R\n")
      yield* peer.waitFor(/RENEGOTIATING/)
      // Node sees the renegotiating ClientHello and refuses it: the read half fails with a typed error,
      // the connection closes, and s_client, whose handshake never completes, sees the connection end.
      const exit = yield* Deferred.await(outcome).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(Exit.isFailure(exit))
      yield* endedWith(
        connection,
        "RenegotiationRefused",
        (error) => ("code" in error.reason ? error.reason.code : undefined),
        "ERR_TLS_RENEGOTIATION_DISABLED"
      )
      yield* peer.exited
    }).pipe(Effect.scoped)
  )

  it.live("client: s_server -tls1_2 sends a HelloRequest (R); our client refuses to renegotiate", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const peer = yield* Peer.opensslServer({ files: yield* TempFiles.pem(issued), args: ["-tls1_2"] })
      const connection = yield* NodeTls.connect({
        host: "127.0.0.1",
        port: peer.port,
        ca: issued.ca,
        servername: "localhost"
      })
      assert.strictEqual(connection.session.protocol, "TLSv1.2")
      yield* peer.write("R\n")
      // Our client answers the HelloRequest with a no_renegotiation alert; s_server gives up on the connection.
      yield* peer.waitFor(/no renegotiation/)
      yield* peer.waitFor(/CONNECTION CLOSED/)
      const exit = yield* Effect.exit(connection.reader.read.pipe(Effect.timeout("3 seconds")))
      // s_server answers the alert with a fatal handshake_failure: the read half fails with it, typed.
      assert.isTrue(Exit.isFailure(exit))
      yield* endedWith(
        connection,
        "AlertReceived",
        (error) => ("alert" in error.reason ? error.reason.alert : undefined),
        40
      )
      // No renegotiation happened on s_server's side: it counted the attempt, not a completed one.
      assert.notMatch(peer.output(), /[1-9]\d* server renegotiates that finished/)
    }).pipe(Effect.scoped)
  )
})
