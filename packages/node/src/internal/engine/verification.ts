/**
 * The engine's verification policy, applied when a handshake completes, on
 * top of what OpenSSL and Node checked: SPKI pinning for a client, the
 * client-certificate check for a server.
 */
import { createHash } from "node:crypto"
import type * as tls from "node:tls"
import { PeerCertificateRequired, PinMismatch, TlsHandshakeError } from "@effect-tls/core/TlsError"
import * as NodeInternals from "./nodeInternals.ts"
import type { EngineExtras, EngineTlsOptions } from "./options.ts"

/**
 * Whether the peer is verified (reported as `peerVerified`), or the error
 * the connection must fail with: a `TlsError`, or Node's verification error
 * for the engine to classify.
 */
export const checkPeer = (
  socket: tls.TLSSocket,
  role: "client" | "server",
  tlsOptions: EngineTlsOptions,
  extras: EngineExtras
): boolean | Error =>
  role === "client" ? checkServer(socket, extras.pinnedSpkiSha256) : checkClient(socket, tlsOptions)

/**
 * Node verified the server's chain and name (and failed the handshake
 * unless `rejectUnauthorized: false`); with pins, the leaf's public key must
 * also be one of them, verified or not.
 */
const checkServer = (socket: tls.TLSSocket, pins: ReadonlyArray<string> | undefined): boolean | Error => {
  if (pins !== undefined && pins.length > 0) {
    const spki = spkiSha256(socket)
    if (spki === undefined || !pins.includes(spki)) {
      return new TlsHandshakeError({
        reason: new PinMismatch({ detail: `the server's public key (SPKI SHA-256 ${spki ?? "none"}) is not pinned` })
      })
    }
  }
  return socket.authorized
}

/** The base64 SHA-256 of the peer leaf's SubjectPublicKeyInfo, as pins are written. */
const spkiSha256 = (socket: tls.TLSSocket): string | undefined => {
  const leaf = socket.getPeerX509Certificate()
  return leaf === undefined
    ? undefined
    : createHash("sha256")
        .update(leaf.publicKey.export({ type: "spki", format: "der" }))
        .digest("base64")
}

/**
 * A tls.Server checks the client's chain after the handshake (OpenSSL is
 * told to accept any chain); outside one, that check is ours. A client is
 * verified when OpenSSL verified its chain and it sent a certificate (TLS 1.3
 * resumption reports a verified chain without one); otherwise the connection
 * fails, unless `rejectUnauthorized: false` lets it through unverified.
 */
const checkClient = (socket: tls.TLSSocket, tlsOptions: EngineTlsOptions): boolean | Error => {
  if (tlsOptions.requestCert !== true) return false
  const verifyError = NodeInternals.verifyError(socket)
  if (verifyError === null && socket.getPeerX509Certificate() !== undefined) return true
  if (tlsOptions.rejectUnauthorized === false) return false
  return (
    verifyError ??
    new TlsHandshakeError({ reason: new PeerCertificateRequired({ detail: "the client sent no certificate" }) })
  )
}
