/**
 * A TLS 1.3 server refusing the client's certificate: the client's handshake
 * completed (it sent its certificate last), and the refusal arrives as an
 * alert at the first read. It is a handshake failure, on both paths, with
 * `PeerCertificateRequired` for a missing certificate and the alert for a
 * refused one.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { credential } from "./helpers.ts"
import { hasOpenssl } from "./interop-support.ts"

const summary = (error: TlsError | Cause.TimeoutError) =>
  error._tag === "TimeoutError" ? "no failure within 5 seconds" : tlsSummary(error)

const tlsSummary = (error: TlsError) =>
  `${error._tag}/${error.reason._tag}${"alert" in error.reason && error.reason.alert !== undefined ? ` ${error.reason.alert}` : ""}`

const paths: ReadonlyArray<TlsOptions.Path> = ["native", "duplex"]

/** Connects over `path`, then reads: the connect succeeds (TLS 1.3), the read fails. */
const firstRead = (options: NodeTls.ConnectOptions, path: TlsOptions.Path) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tls = yield* NodeTls.connect({ ...options, maxVersion: "TLSv1.3", minVersion: "TLSv1.3", path })
      assert.strictEqual(tls.session.protocol, "TLSv1.3")
      return summary(yield* Effect.flip(tls.reader.read.pipe(Effect.timeout("5 seconds"))))
    })
  )

describe("TLS 1.3: the server's verdict on the client certificate is a handshake failure", () => {
  it.live.skipIf(!hasOpenssl)("openssl s_server -Verify: no certificate, and one from an unknown CA", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const server = yield* pki.issueServer()
      // Another PKI (the test PKIs are memoized by name): a client certificate the server does not trust.
      const stranger = yield* (yield* CertificateAuthority.make({ name: "stranger" })).issueClient()
      const files = yield* TempFiles.pem(server)
      for (const path of paths) {
        const none = yield* Peer.opensslServer({ files, args: ["-Verify", "1", "-tls1_3", "-CAfile", files.ca] })
        const target = { host: "127.0.0.1", port: none.port, ca: server.ca, servername: "localhost" }
        assert.strictEqual(yield* firstRead(target, path), "TlsHandshakeError/PeerCertificateRequired 116", path)
        // -verify_return_error: without it s_server goes on after a failed verification.
        const unknown = yield* Peer.opensslServer({
          files,
          args: ["-Verify", "1", "-verify_return_error", "-tls1_3", "-CAfile", files.ca]
        })
        assert.match(
          yield* firstRead({ ...target, port: unknown.port, credential: credential(stranger) }, path),
          /^TlsHandshakeError\/AlertReceived (48|42|46)$/,
          path
        )
      }
    }).pipe(Effect.scoped)
  )

  it.live("our own server requiring a client certificate", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const server = yield* pki.issueServer()
      const listener = yield* NodeTls.serve(
        {
          credentials: [credential(server)],
          clientAuth: { mode: "require", ca: server.ca },
          shutdownTimeout: "100 millis"
        },
        () => Effect.void
      )
      const target = { host: "127.0.0.1", port: listener.address.port, ca: server.ca, servername: "localhost" }
      for (const path of paths) {
        assert.strictEqual(yield* firstRead(target, path), "TlsHandshakeError/PeerCertificateRequired 116", path)
      }
    }).pipe(Effect.scoped)
  )
})
