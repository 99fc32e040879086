/**
 * The core `TlsSession` of a Node TLSSocket, read once the handshake is done.
 */
import { X509Certificate } from "node:crypto"
import type * as tls from "node:tls"
import { TlsProtocolError, TlsStateError } from "@effect-tls/core/TlsError"
import type { PeerCertificate, TlsSession } from "@effect-tls/core/TlsSession"
import * as Effect from "effect/Effect"

/** The peer's chain, leaf first, from the DER Node keeps on the socket (at most 10 links, cycles cut). */
const peerChain = (socket: tls.TLSSocket): ReadonlyArray<PeerCertificate> => {
  // Node returns an empty object when the peer sent no certificate.
  const detailed: Partial<tls.DetailedPeerCertificate> = socket.getPeerCertificate(true)
  const chain: Array<PeerCertificate> = []
  const seen = new Set<string>()
  let current: Partial<tls.DetailedPeerCertificate> | undefined = detailed
  while (current?.raw !== undefined && chain.length < 10 && !seen.has(current.fingerprint256 ?? "")) {
    seen.add(current.fingerprint256 ?? "")
    chain.push(decode(current.raw))
    current = current.issuerCertificate
  }
  return chain
}

const decode = (der: Buffer): PeerCertificate => {
  const x509 = new X509Certificate(der)
  return {
    subject: x509.subject,
    issuer: x509.issuer,
    subjectAltNames: (x509.subjectAltName ?? "")
      .split(", ")
      .filter((name) => name.startsWith("DNS:") || name.startsWith("IP Address:"))
      .map((name) => (name.startsWith("IP Address:") ? `IP:${name.slice("IP Address:".length)}` : name)),
    validFrom: x509.validFromDate,
    validTo: x509.validToDate,
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    der: new Uint8Array(der.buffer, der.byteOffset, der.byteLength)
  }
}

/**
 * Reads the session facts from an established socket, while it is alive.
 */
export const fromSocket = (
  socket: tls.TLSSocket,
  role: "client" | "server",
  facts: { readonly servername: string | undefined; readonly peerVerified: boolean }
): TlsSession => {
  const cipher = socket.getCipher()
  const keyInfo = socket.getEphemeralKeyInfo() as { readonly name?: string; readonly type?: string } | null
  const alpn = socket.alpnProtocol
  const servernameOnSocket = (socket as { readonly servername?: unknown }).servername
  let chain: ReadonlyArray<PeerCertificate>
  // Captured now: after the socket closes Node no longer has the certificates.
  try {
    chain = peerChain(socket)
  } catch {
    // A certificate OpenSSL accepted but Node cannot decode: report no chain rather than fail the connection.
    chain = []
  }
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: cipher.standardName ?? cipher.name,
    group: keyInfo?.name,
    alpn: typeof alpn === "string" ? alpn : undefined,
    servername: facts.servername ?? (typeof servernameOnSocket === "string" ? servernameOnSocket : undefined),
    peerCertificates: chain,
    peerVerified: facts.peerVerified,
    resumed: socket.isSessionReused(),
    role,
    exportKeyingMaterial: ({ label, length, context }) =>
      Effect.try({
        try: () => {
          if (socket.destroyed) throw new Error("closed")
          const material =
            context === undefined
              ? // Node's typings require a context, but "no context" differs from an empty one in TLS 1.2 (RFC 5705).
                (socket.exportKeyingMaterial as (length: number, label: string) => Buffer).call(socket, length, label)
              : socket.exportKeyingMaterial(length, label, Buffer.from(context))
          return new Uint8Array(material.buffer, material.byteOffset, material.byteLength)
        },
        catch: (cause) =>
          socket.destroyed
            ? new TlsStateError({
                reason: "ConnectionClosed",
                detail: "exportKeyingMaterial after the connection closed"
              })
            : new TlsProtocolError({ reason: "Other", detail: "exportKeyingMaterial failed", cause })
      })
  }
}
