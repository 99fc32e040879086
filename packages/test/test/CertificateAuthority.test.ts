import { X509Certificate } from "node:crypto"
import * as path from "node:path"
import * as tls from "node:tls"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as CertificateAuthority from "../src/CertificateAuthority.ts"
import * as Loopback from "../src/Loopback.ts"
import * as Peer from "../src/Peer.ts"
import * as TempFiles from "../src/TempFiles.ts"

class TlsFailure extends Data.TaggedError("TlsFailure")<{ readonly code: string; readonly message: string }> {}

const failure = (error: unknown): TlsFailure => {
  const code =
    typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
      ? error.code
      : "UNKNOWN"
  return new TlsFailure({ code, message: error instanceof Error ? error.message : String(error) })
}

/**
 * A TLS server on 127.0.0.1 that answers `pong:<data>` and closes, closed with the scope.
 * `accepted` is how it judged the first peer that completed a handshake, `clientError` the
 * first handshake failure it saw; both wait at most 5 seconds.
 */
const server = Effect.fn("server")(function* (options: tls.TlsOptions) {
  const accepted = yield* Deferred.make<{ readonly authorized: boolean; readonly authorizationError: string | null }>()
  const clientErrors = yield* Deferred.make<TlsFailure>()
  const s = tls.createServer(options, (socket) => {
    Deferred.doneUnsafe(
      accepted,
      Effect.succeed({
        authorized: socket.authorized,
        authorizationError: socket.authorized ? null : String(socket.authorizationError)
      })
    )
    socket.on("error", () => {})
    socket.once("data", (data) => socket.end(`pong:${data}`))
  })
  s.on("tlsClientError", (error) => Deferred.doneUnsafe(clientErrors, Effect.succeed(failure(error))))
  const port = yield* Loopback.serve(s)
  return {
    port,
    accepted: Deferred.await(accepted).pipe(Effect.timeout("5 seconds")),
    clientError: Deferred.await(clientErrors).pipe(Effect.timeout("5 seconds"))
  }
})

/** Connects, sends `ping`, reads until the end; fails with the TLS error code. */
const exchange = (port: number, options: tls.ConnectionOptions) =>
  Effect.callback<{ readonly authorized: boolean; readonly data: string }, TlsFailure>((resume) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ...options })
    let data = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      data += chunk
    })
    socket.once("secureConnect", () => socket.write("ping"))
    socket.once("error", (error) => {
      socket.destroy()
      resume(Effect.fail(failure(error)))
    })
    socket.once("end", () => {
      const authorized = socket.authorized
      socket.destroy()
      resume(Effect.succeed({ authorized, data }))
    })
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeout("5 seconds"))

const rejection = (port: number, options: tls.ConnectionOptions) =>
  exchange(port, options).pipe(
    Effect.flip,
    Effect.map((error) => (error._tag === "TlsFailure" ? error.code : error._tag))
  )

/** Runs a command to its end (at most 10 seconds): its exit code and what it printed. */
const run = (file: string, args: ReadonlyArray<string>) =>
  Effect.map(Peer.run(file, args), (done) => ({ code: done.code ?? -1, output: done.output }))

/** `openssl verify` of a leaf against the PKI's root with the leaf's intermediate as untrusted. */
const opensslVerify = Effect.fn("opensslVerify")(function* (
  pki: CertificateAuthority.TestPki,
  issued: CertificateAuthority.Issued,
  extra: ReadonlyArray<string> = []
) {
  const dir = yield* TempFiles.directory({
    "root.pem": pki.root,
    "intermediate.pem": pki.intermediate,
    "leaf.pem": issued.cert
  })
  const file = (name: string) => path.join(dir, name)
  return yield* run("openssl", [
    "verify",
    ...extra,
    "-CAfile",
    file("root.pem"),
    "-untrusted",
    file("intermediate.pem"),
    file("leaf.pem")
  ])
})

describe("CertificateAuthority", () => {
  it.live("issues PEM certificates, PKCS#8 keys and memoizes them", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const issued = yield* pki.issueServer()
      expect(issued.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/)
      expect(issued.chain).toBe(issued.cert + pki.intermediate)
      expect(issued.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
      expect(Redacted.value(issued.redactedKey)).toBe(issued.key)
      expect(String(issued.redactedKey)).not.toContain("PRIVATE KEY")
      expect(issued.serverOptions).toEqual({ key: issued.key, cert: issued.chain, ca: pki.root })
      expect(pki.clientOptions()).toEqual({ ca: pki.root, servername: "localhost" })
      expect(yield* CertificateAuthority.issueServer()).toBe(issued)
      expect(yield* CertificateAuthority.make()).not.toBe(pki)
      expect((yield* CertificateAuthority.make()).root).toBe(pki.root)
      const leaf = new X509Certificate(issued.cert)
      expect(leaf.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")
      expect(leaf.checkIssued(new X509Certificate(pki.intermediate))).toBe(true)
    })
  )

  it.live("is available as a service", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.CertificateAuthority
      const client = yield* pki.issueClient({ commonName: "alice" })
      expect(client.kind).toBe("client")
      expect(pki.root).toBe((yield* CertificateAuthority.make()).root)
    }).pipe(Effect.provide(CertificateAuthority.layer))
  )

  it.live("a node:tls server and client complete a handshake and exchange data", () =>
    Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const issued = yield* pki.issueServer()
      const { port } = yield* server(issued.serverOptions)
      expect(yield* exchange(port, pki.clientOptions())).toEqual({ authorized: true, data: "pong:ping" })
      // the IP subjectAltName, checked against the host when there is no servername
      expect(yield* exchange(port, { ca: pki.root })).toEqual({ authorized: true, data: "pong:ping" })
    })
  )

  describe("key types", () => {
    for (const keyType of ["P-256", "Ed25519", "RSA-2048"] as const) {
      it.live(`${keyType} handshakes`, () =>
        Effect.gen(function* () {
          const pki = yield* CertificateAuthority.make()
          const issued = yield* pki.issueServer({ keyType })
          expect(issued.keyType).toBe(keyType)
          const { port } = yield* server(issued.serverOptions)
          expect(yield* exchange(port, pki.clientOptions())).toEqual({ authorized: true, data: "pong:ping" })
        })
      )
    }

    it.live("an Ed25519 PKI verifies with openssl", () =>
      Effect.gen(function* () {
        const pki = yield* CertificateAuthority.make({ name: "ed25519 pki", keyType: "Ed25519" })
        const issued = yield* pki.issueServer()
        expect((yield* opensslVerify(pki, issued)).code).toBe(0)
        const { port } = yield* server(issued.serverOptions)
        expect(yield* exchange(port, pki.clientOptions())).toEqual({ authorized: true, data: "pong:ping" })
      })
    )
  })

  describe("bad certificates are rejected by node:tls", () => {
    const cases: ReadonlyArray<readonly [CertificateAuthority.Kind, string]> = [
      ["expired", "CERT_HAS_EXPIRED"],
      ["notYetValid", "CERT_NOT_YET_VALID"],
      ["wrongHost", "ERR_TLS_CERT_ALTNAME_INVALID"],
      ["selfSigned", "DEPTH_ZERO_SELF_SIGNED_CERT"],
      ["unknownCa", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"],
      ["wrongUsage", "INVALID_PURPOSE"]
    ]
    for (const [kind, code] of cases) {
      it.live(`${kind}: ${code}`, () =>
        Effect.gen(function* () {
          const pki = yield* CertificateAuthority.make()
          const issued = yield* pki.issue(kind)
          const { port } = yield* server(issued.serverOptions)
          expect(yield* rejection(port, pki.clientOptions())).toBe(code)
        })
      )
    }

    it.live("the unknown CA's leaf without its intermediate: UNABLE_TO_VERIFY_LEAF_SIGNATURE", () =>
      Effect.gen(function* () {
        const pki = yield* CertificateAuthority.make()
        const issued = yield* pki.issueUnknownCa()
        const { port } = yield* server({ ...issued.serverOptions, cert: issued.cert })
        expect(yield* rejection(port, pki.clientOptions())).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
      })
    )
  })

  describe("mutual TLS", () => {
    const mtlsServer = Effect.gen(function* () {
      const pki = yield* CertificateAuthority.make()
      const issued = yield* pki.issueServer()
      const listening = yield* server({ ...issued.serverOptions, requestCert: true, rejectUnauthorized: true })
      return { pki, ...listening }
    })

    it.live("succeeds with a client certificate", () =>
      Effect.gen(function* () {
        const { pki, port, accepted } = yield* mtlsServer
        const client = yield* pki.issueClient()
        expect(yield* exchange(port, client.clientOptions())).toEqual({ authorized: true, data: "pong:ping" })
        expect(yield* accepted).toEqual({ authorized: true, authorizationError: null })
      })
    )

    it.live("fails without a client certificate", () =>
      Effect.gen(function* () {
        const { pki, port, clientError } = yield* mtlsServer
        expect(yield* rejection(port, pki.clientOptions())).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
        expect((yield* clientError).code).toBe("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")
      })
    )

    it.live("rejects a client certificate without clientAuth: INVALID_PURPOSE", () =>
      Effect.gen(function* () {
        const { pki, port } = yield* mtlsServer
        const wrong = yield* pki.issueServer()
        // the server verifies after the handshake and hangs up without answering
        expect(yield* exchange(port, wrong.clientOptions())).toEqual({ authorized: true, data: "" })
        // a lenient server tells why
        const issued = yield* pki.issueServer()
        const lenient = yield* server({ ...issued.serverOptions, requestCert: true, rejectUnauthorized: false })
        expect(yield* exchange(lenient.port, wrong.clientOptions())).toEqual({ authorized: true, data: "pong:ping" })
        expect(yield* lenient.accepted).toEqual({ authorized: false, authorizationError: "INVALID_PURPOSE" })
      })
    )
  })

  describe("openssl verify", () => {
    it.live("accepts the server and client certificates with their names", () =>
      Effect.gen(function* () {
        const pki = yield* CertificateAuthority.make()
        const issued = yield* pki.issueServer()
        const ok = yield* opensslVerify(pki, issued, ["-purpose", "sslserver", "-verify_hostname", "localhost"])
        expect(ok).toEqual({ code: 0, output: expect.stringContaining("leaf.pem: OK") })
        expect((yield* opensslVerify(pki, issued, ["-verify_ip", "::1"])).code).toBe(0)
        expect((yield* opensslVerify(pki, yield* pki.issueClient(), ["-purpose", "sslclient"])).code).toBe(0)
      })
    )

    it.live("rejects the expired certificate and the wrong usage", () =>
      Effect.gen(function* () {
        const pki = yield* CertificateAuthority.make()
        const expired = yield* opensslVerify(pki, yield* pki.issueExpired())
        expect(expired.code).not.toBe(0)
        expect(expired.output).toContain("certificate has expired")
        const usage = yield* opensslVerify(pki, yield* pki.issueWrongUsage(), ["-purpose", "sslserver"])
        expect(usage.code).not.toBe(0)
        expect(usage.output).toContain("unsuitable certificate purpose")
      })
    )
  })
})
