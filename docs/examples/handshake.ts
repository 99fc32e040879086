/**
 * What the handshake negotiates: mutual TLS, SNI, ALPN and session
 * resumption.
 */
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"

export const program = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const main = yield* pki.issueServer()
    const api = yield* pki.issueServer({ commonName: "api", dnsNames: ["api.localhost"] })
    const alice = yield* pki.issueClient({ commonName: "alice" })
    const ca = pki.root
    const credential = (issued: typeof main): TlsOptions.Credential => ({ cert: issued.chain, key: issued.redactedKey })

    // #region mtls
    const internal = yield* NodeTls.serve(
      {
        credentials: [credential(main)],
        // Mutual TLS: a client certificate from this CA, or no connection.
        clientAuth: { mode: "require", ca }
      },
      (tls) => tls.writer.write(`hello, ${tls.session.peerCertificates[0]?.subject ?? "nobody"}\n`)
    )
    const alicesClient = yield* NodeTlsClient.make({ ca, credential: credential(alice) })
    const call = Effect.scoped(
      Effect.flatMap(
        alicesClient.connect({ host: "127.0.0.1", port: internal.address.port, servername: "localhost" }),
        (tls) => Effect.map(tls.reader.readUntil("\n"), (line) => ({ line, resumed: tls.session.resumed }))
      )
    )
    const greeting = (yield* call).line
    // The second call resumes: the server still knows alice's verified certificate.
    const greetingAgain = yield* call
    // #endregion mtls

    // #region server
    const server = yield* NodeTls.serve(
      {
        credentials: [credential(main)],
        // SNI: a certificate per server name; other names get `credentials`.
        sni: { "api.localhost": [credential(api)] },
        // ALPN: accepted protocols, in the server's order of preference.
        alpn: ["h2", "http/1.1"]
      },
      (tls) => tls.writer.write(`${tls.session.alpn} to ${tls.session.servername}\n`)
    )
    // #endregion server

    // #region client
    // One client: one SecureContext and one session cache for all its connections.
    const client = yield* NodeTlsClient.make({ ca, alpn: ["http/1.1"] })
    const visit = (servername: string) =>
      Effect.scoped(
        Effect.gen(function* () {
          const tls = yield* client.connect({ host: "127.0.0.1", port: server.address.port, servername })
          // TLS 1.3 session tickets arrive after the handshake, with the first data.
          const line = new TextDecoder().decode(yield* tls.reader.readUntil("\n"))
          return { line, certificate: tls.session.peerCertificates[0]?.subject ?? "", resumed: tls.session.resumed }
        })
      )
    const first = yield* visit("localhost")
    const again = yield* visit("localhost") // resumed with the ticket of the first
    const other = yield* visit("api.localhost") // another name, another certificate
    // #endregion client
    return {
      mtls: new TextDecoder().decode(greeting),
      mtlsAgain: { line: new TextDecoder().decode(greetingAgain.line), resumed: greetingAgain.resumed },
      first,
      again,
      other,
      cachedSessions: yield* client.cachedSessions
    }
  })
)
