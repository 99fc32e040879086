/**
 * A server with an ECDSA and an RSA certificate at once: OpenSSL picks the one
 * the client's signature algorithms allow.
 */
import { X509Certificate } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import { credential } from "./helpers.ts"
import { hasOpenssl } from "./interop-support.ts"

describe.skipIf(!hasOpenssl)("native path: RSA and ECDSA credentials together (needs openssl, stdbuf)", () => {
  it.live("a client that accepts only RSA-PSS gets the RSA certificate; a default client gets ECDSA", () =>
    Effect.gen(function* () {
      const ecdsa = yield* CertificateAuthority.issueServer({ keyType: "P-256" })
      const rsa = yield* CertificateAuthority.issueServer({ keyType: "RSA-2048" })
      const files = yield* TempFiles.pem(ecdsa)
      const server = yield* NodeTls.serve(
        { credentials: [credential(ecdsa), credential(rsa)], shutdownTimeout: "100 millis" },
        (connection) => connection.writer.write("served\n")
      )
      const handshake = (sigalgs: ReadonlyArray<string>) =>
        Effect.scoped(
          Effect.gen(function* () {
            const peer = yield* Peer.opensslClient({
              port: server.address.port,
              ca: files.ca,
              servername: "localhost",
              args: sigalgs
            })
            yield* peer.waitFor(/served/)
            return peer.output()
          })
        )
      for (const [version, flag] of [
        ["TLSv1.3", "-tls1_3"],
        ["TLSv1.2", "-tls1_2"]
      ] as const) {
        const onlyRsa = yield* handshake([flag, "-sigalgs", "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384"])
        assert.match(onlyRsa, /Verify return code: 0 \(ok\)/, version)
        assert.match(onlyRsa, /Server public key is 2048 bit/, version)
        assert.match(onlyRsa, /Peer signature type: RSA-PSS/, version)
        assert.match(onlyRsa, /s:CN ?= ?effect-tls test server/, version)
        const anything = yield* handshake([flag])
        assert.match(anything, /Verify return code: 0 \(ok\)/, version)
        assert.match(anything, /Server public key is 256 bit/, version)
        assert.match(anything, /Peer signature type: ECDSA/, version)
      }
    }).pipe(Effect.scoped)
  )

  it.live("our client sees the chosen certificate's key in the session", () =>
    Effect.gen(function* () {
      const ecdsa = yield* CertificateAuthority.issueServer({ keyType: "P-256" })
      const rsa = yield* CertificateAuthority.issueServer({ keyType: "RSA-2048" })
      const server = yield* NodeTls.serve(
        { credentials: [credential(rsa), credential(ecdsa)], shutdownTimeout: "100 millis" },
        () => Effect.void
      )
      const connection = yield* NodeTls.connect({
        host: "127.0.0.1",
        port: server.address.port,
        ca: ecdsa.ca,
        servername: "localhost"
      })
      // Node's client offers ECDSA first: with both, the ECDSA leaf is the one served.
      const leaf = connection.session.peerCertificates[0]
      assert.isDefined(leaf)
      assert.strictEqual(leaf?.fingerprint256, new X509Certificate(ecdsa.cert).fingerprint256)
    }).pipe(Effect.scoped)
  )
})
