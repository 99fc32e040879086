/**
 * OCSP: the client's `requestOcsp` asks for a stapled response, delivered as
 * an `OcspResponse` event. The server side has no stapling option, so only the
 * client is tested, against `openssl s_server -status_file`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { hasOpenssl } from "./interop-support.ts"

/** A DER OCSPResponse with status `unauthorized` (6) and no body: the smallest response OpenSSL parses. */
const UNAUTHORIZED = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x06])

describe.skipIf(!hasOpenssl)("native path: OCSP stapling (client) (needs openssl, stdbuf)", () => {
  for (const version of ["-tls1_3", "-tls1_2"] as const) {
    it.live(
      `requestOcsp: s_server's stapled response arrives as an OcspResponse event, byte for byte (${version})`,
      () =>
        Effect.gen(function* () {
          const issued = yield* CertificateAuthority.issueServer()
          const files = yield* TempFiles.pem(issued)
          const status = yield* TempFiles.directory({ "ocsp.der": UNAUTHORIZED })
          const peer = yield* Peer.opensslServer({
            files,
            args: [version, "-status_file", `${status}/ocsp.der`]
          })
          const connection = yield* NodeTls.connect({
            host: "127.0.0.1",
            port: peer.port,
            ca: issued.ca,
            servername: "localhost",
            requestOcsp: true
          })
          const response = yield* connection.events.pipe(
            Stream.filter((event) => event._tag === "OcspResponse"),
            Stream.runHead,
            Effect.timeout("5 seconds")
          )
          assert.strictEqual(response._tag, "Some")
          if (response._tag === "Some" && response.value._tag === "OcspResponse") {
            assert.deepStrictEqual([...response.value.response], [...UNAUTHORIZED])
          }
        }).pipe(Effect.scoped)
    )
  }
})
