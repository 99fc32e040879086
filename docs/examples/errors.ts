/**
 * Errors: every failure is a typed value with a reason; match on the tag and
 * the reason, keep the cause for the logs.
 */
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"

// #region advice
/** What to tell an operator about a failure. */
export const advice = (error: TlsError): string => {
  switch (error._tag) {
    case "TlsHandshakeError": {
      const reason = error.reason
      switch (reason._tag) {
        case "UnknownCa":
        case "SelfSigned":
          return "the server's certificate is not signed by a CA we trust: check `ca`"
        case "HostnameMismatch":
          return "the certificate is not for this name: check `servername`"
        case "CertificateExpired":
        case "CertificateNotYetValid":
          return "the certificate is outside its validity period (or a clock is wrong)"
        case "NotTls":
          return `the peer does not speak TLS on this port (${reason.protocol ?? "not TLS"}): check the port`
        case "Timeout":
          return "the peer did not complete the handshake in time"
        case "AlertReceived":
          return `the peer refused the handshake with alert ${reason.alert}`
        default:
          return `handshake failed: ${reason.message}`
      }
    }
    case "TlsTransportError":
      return error.reason._tag === "ConnectionRefused" ? "nothing listens there" : `network: ${error.reason.message}`
    case "TlsTruncationError":
      return "the peer vanished without close_notify: the data may be incomplete"
    case "TlsProtocolError":
      return `the TLS session broke: ${error.reason.message}`
    case "TlsStateError":
      return `not now: ${error.reason.message}`
    case "TlsConfigError":
      return `fix the configuration: ${error.reason.message}`
    case "TlsRuntimeError":
      return `${error.reason.runtime} ${error.reason.version} cannot run the ${error.reason.path} path safely: Runtime.paths() lists what it runs`
  }
}
// #endregion advice

// #region catch
/** Connects, and turns a certificate problem into a value instead of a failure. */
export const probe = (port: number, ca: string) =>
  Effect.scoped(Effect.map(NodeTls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }), () => "ok")).pipe(
    Effect.catchReason("TlsHandshakeError", "UnknownCa", () => Effect.succeed("untrusted"))
  )
// #endregion catch

export const program = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const stranger = yield* pki.issueUnknownCa()
    const server = yield* NodeTls.serve(
      { credentials: [{ cert: stranger.chain, key: stranger.redactedKey }] },
      () => Effect.void
    )
    const untrusted = yield* probe(server.address.port, pki.root)
    const wrongCa = yield* Effect.flip(
      Effect.scoped(NodeTls.connect({ host: "127.0.0.1", port: server.address.port, ca: pki.root }))
    )
    return { untrusted, advice: advice(wrongCa) }
  })
)
