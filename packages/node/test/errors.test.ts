import { createHash, X509Certificate } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import type { HandshakeFailureReason, TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, Loopback, Relay } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import { credential, failure, testServer } from "./helpers.ts"

/** An error as a flat record, to compare with `deepInclude`: its tag, its reason's tag and the reason's fields. */
const summary = (error: TlsError) => ({
  _tag: error._tag,
  reason: error.reason._tag,
  ...("code" in error.reason ? { code: error.reason.code } : {}),
  ...("alert" in error.reason ? { alert: error.reason.alert } : {})
})

/** Connects a default client (trusting the test CA) to a server with `issued` and the given options. */
const handshakeFailure = (
  issued: CertificateAuthority.Issued,
  server: Partial<TlsOptions.ServerOptions> = {},
  client: Partial<NodeTls.ConnectOptions> = {}
) =>
  Effect.gen(function* () {
    const { port } = yield* testServer({ credentials: [credential(issued)], ...server })
    return yield* failure(
      NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca, servername: "localhost", ...client })
    )
  }).pipe(Effect.scoped)

/** Handshakes that fail: the certificate the server presents, the options of each side, what the client reports. */
const rejected: ReadonlyArray<{
  readonly name: string
  readonly issue: Effect.Effect<CertificateAuthority.Issued, CertificateAuthority.CertificateAuthorityError>
  readonly server?: Partial<TlsOptions.ServerOptions>
  readonly client?: Partial<NodeTls.ConnectOptions>
  readonly expected: {
    readonly reason: HandshakeFailureReason["_tag"]
    readonly code?: string
    readonly alert?: number
  }
}> = [
  {
    name: "CertificateExpired",
    issue: CertificateAuthority.issueExpired(),
    expected: { reason: "CertificateExpired", code: "CERT_HAS_EXPIRED" }
  },
  {
    name: "CertificateNotYetValid",
    issue: CertificateAuthority.issueNotYetValid(),
    expected: { reason: "CertificateNotYetValid" }
  },
  { name: "HostnameMismatch", issue: CertificateAuthority.issueWrongHost(), expected: { reason: "HostnameMismatch" } },
  { name: "SelfSigned", issue: CertificateAuthority.issueSelfSigned(), expected: { reason: "SelfSigned" } },
  {
    name: "BadCertificate: a server certificate without serverAuth",
    issue: CertificateAuthority.issueWrongUsage(),
    expected: { reason: "BadCertificate" }
  },
  {
    name: "ProtocolVersion: TLS 1.3 only against TLS 1.2 only",
    issue: CertificateAuthority.issueServer(),
    server: { maxVersion: "TLSv1.2" },
    client: { minVersion: "TLSv1.3" },
    expected: { reason: "ProtocolVersion" }
  },
  {
    name: "NoApplicationProtocol: no common ALPN protocol",
    issue: CertificateAuthority.issueServer(),
    server: { alpn: ["h2"] },
    client: { alpn: ["x"] },
    expected: { reason: "NoApplicationProtocol", alert: 120 }
  },
  {
    name: "AlertReceived: the server's handshake_failure alert (no shared cipher), with its code",
    issue: CertificateAuthority.issueServer(),
    server: { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" },
    client: { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-CHACHA20-POLY1305" },
    expected: { reason: "AlertReceived", alert: 40 }
  }
]

describe("error classification (native path)", () => {
  for (const { name, issue, server, client, expected } of rejected) {
    it.live(name, () =>
      Effect.gen(function* () {
        const error = yield* handshakeFailure(yield* issue, server, client)
        assert.strictEqual(error._tag, "TlsHandshakeError")
        assert.deepInclude(summary(error), expected)
      })
    )
  }

  it.live("UnknownCa: a certificate from an untrusted CA", () =>
    Effect.gen(function* () {
      const error = yield* handshakeFailure(yield* CertificateAuthority.issueUnknownCa())
      assert.strictEqual(error._tag, "TlsHandshakeError")
      if (error._tag === "TlsHandshakeError") {
        assert.strictEqual(error.reason._tag, "UnknownCa")
        assert.isDefined(error.reason.code)
        assert.isDefined(error.cause)
        assert.strictEqual(error.reason.cause, error.cause)
      }
    })
  )

  it.live("PinMismatch: a verified server whose key is not pinned; the right pin passes", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const wrong = createHash("sha256").update("not the key").digest("base64")
      const error = yield* handshakeFailure(issued, {}, { pinnedSpkiSha256: [wrong] })
      assert.deepInclude(summary(error), { _tag: "TlsHandshakeError", reason: "PinMismatch" })
      const spki = new X509Certificate(issued.cert).publicKey.export({ type: "spki", format: "der" })
      const right = createHash("sha256").update(spki).digest("base64")
      const { port } = yield* testServer({ credentials: [credential(issued)] })
      const connection = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca, pinnedSpkiSha256: [right] })
      assert.isTrue(connection.session.peerVerified)
    }).pipe(Effect.scoped)
  )

  it.live("PeerCertificateRequired: the server requires a client certificate", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const { port, accepted } = yield* testServer({
        credentials: [credential(issued)],
        clientAuth: { mode: "require", ca: issued.ca },
        maxVersion: "TLSv1.2"
      })
      const error = yield* failure(NodeTls.connect({ host: "127.0.0.1", port, ca: issued.ca }))
      // TLS 1.2: the client learns it from the server's alert (handshake_failure or certificate_required).
      assert.strictEqual(error._tag, "TlsHandshakeError")
      assert.strictEqual(yield* Queue.size(accepted), 0)
    }).pipe(Effect.scoped)
  )

  it.live("Timeout: a server that never answers the ClientHello", () =>
    Effect.gen(function* () {
      const { port } = yield* Loopback.listen()
      const error = yield* failure(
        NodeTls.connect({ host: "127.0.0.1", port, connection: { handshakeTimeout: "200 millis" } })
      )
      assert.deepInclude(summary(error), { _tag: "TlsHandshakeError", reason: "Timeout" })
    }).pipe(Effect.scoped)
  )

  it.live("ConnectionRefused: nobody listens", () =>
    Effect.gen(function* () {
      const port = yield* Loopback.closedPort
      const error = yield* failure(NodeTls.connect({ host: "127.0.0.1", port }))
      assert.deepInclude(summary(error), {
        _tag: "TlsTransportError",
        reason: "ConnectionRefused",
        code: "ECONNREFUSED"
      })
    })
  )

  it.live("HostNotFound: a name that cannot resolve", () =>
    Effect.gen(function* () {
      const error = yield* failure(NodeTls.connect({ host: "no-such-host.invalid", port: 443 }))
      assert.deepInclude(summary(error), { _tag: "TlsTransportError", reason: "HostNotFound" })
    })
  )

  it.live("BadRecordMac: a corrupted record after the handshake; the socket is closed", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const { port, accepted } = yield* testServer({ credentials: [credential(issued)] })
      const relay = yield* Relay.make(port)
      const client = yield* NodeTls.connect({ host: "127.0.0.1", port: relay.port, ca: issued.ca })
      const server = yield* Queue.take(accepted)
      yield* relay.corruptNext("toClient")
      yield* server.writer.write(Buffer.alloc(1000, 1))
      const error = yield* Effect.flip(client.reader.read)
      assert.deepInclude(summary(error), { _tag: "TlsProtocolError", reason: "BadRecordMac" })
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Failed")
      // Fatal means closed: the server sees its peer go away.
      const serverOutcome = yield* server.closed.pipe(Effect.timeout("5 seconds"))
      assert.notStrictEqual(serverOutcome._tag, "Clean")
    }).pipe(Effect.scoped)
  )

  it.live("TlsConfigError: invalid options are refused before connecting", () =>
    Effect.gen(function* () {
      const weak = yield* failure(NodeTls.connect({ host: "127.0.0.1", port: 1, minVersion: "TLSv1" }))
      assert.deepInclude(summary(weak), { _tag: "TlsConfigError", reason: "InvalidOption" })
      const badKey = yield* failure(
        NodeTls.connect({ host: "127.0.0.1", port: 1, credential: { cert: "x", key: Redacted.make("y") } })
      )
      assert.strictEqual(badKey._tag, "TlsConfigError")
    })
  )
})
