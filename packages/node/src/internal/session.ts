/**
 * The core `TlsSession` of a Node TLSSocket, read once the handshake is done.
 */
import { X509Certificate } from "node:crypto"
import type * as tls from "node:tls"
import { TlsProtocolError, TlsStateError } from "@effect-tls/core/TlsError"
import type { PeerCertificate, TlsSession } from "@effect-tls/core/TlsSession"
import * as Effect from "effect/Effect"

/**
 * The DER of each certificate of Node's detailed view of a chain, leaf first
 * (at most 10 links, cycles cut). Only the DER is kept: the detailed view
 * holds kilobytes of strings per certificate, for as long as the connection.
 */
export const chainDer = (detailed: Partial<tls.DetailedPeerCertificate> | undefined): ReadonlyArray<Buffer> => {
  const ders: Array<Buffer> = []
  const seen = new Set<string>()
  let current = detailed
  while (current?.raw !== undefined && ders.length < 10 && !seen.has(current.fingerprint256 ?? "")) {
    seen.add(current.fingerprint256 ?? "")
    ders.push(current.raw)
    current = current.issuerCertificate
  }
  return ders
}

/**
 * The peer's chain as verified, decoded on first use: most connections never
 * look at it, and decoding costs more than a resumed handshake.
 */
const lazyPeerChain = (ders: ReadonlyArray<Buffer>): (() => ReadonlyArray<PeerCertificate>) => {
  let chain: ReadonlyArray<PeerCertificate> | undefined
  return () => {
    if (chain !== undefined) return chain
    const decoded: Array<PeerCertificate> = []
    try {
      for (const der of ders) decoded.push(decode(der))
    } catch {
      // A certificate OpenSSL accepted but Node cannot decode: report what decoded.
    }
    chain = decoded
    return chain
  }
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
  facts: {
    readonly servername: string | undefined
    readonly peerVerified: boolean
    /** The DER of the peer's chain as verified, leaf first, taken by the engine. */
    readonly peerChain: ReadonlyArray<Buffer>
  }
): TlsSession => {
  const cipher = socket.getCipher()
  const keyInfo = socket.getEphemeralKeyInfo() as { readonly name?: string; readonly type?: string } | null
  const alpn = socket.alpnProtocol
  const servernameOnSocket = (socket as { readonly servername?: unknown }).servername
  const peerChain = lazyPeerChain(facts.peerChain)
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: cipher.standardName ?? cipher.name,
    group: keyInfo?.name,
    alpn: typeof alpn === "string" ? alpn : undefined,
    servername: facts.servername ?? (typeof servernameOnSocket === "string" ? servernameOnSocket : undefined),
    get peerCertificates() {
      return peerChain()
    },
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
