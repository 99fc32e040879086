/**
 * The core `TlsSession` of a Node TLSSocket, read once the handshake is done.
 */
import { X509Certificate } from "node:crypto"
import type * as tls from "node:tls"
import { ConnectionClosed, Other, type TlsError, TlsProtocolError, TlsStateError } from "@effect-tls/core/TlsError"
import type { ExportKeyingMaterialOptions, PeerCertificate, TlsSession } from "@effect-tls/core/TlsSession"
import * as Effect from "effect/Effect"

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

/** How many distinct names `shared` keeps: far more than there are protocols, suites and groups. */
const SHARED_NAMES = 64

/** The names `shared` hands out, each kept once: written and read by `shared` only. */
const sharedNames = new Map<string, string>()

/**
 * One copy of a name a session reports (protocol, cipher suite, group):
 * Node makes a new string per call, which every connection would keep for
 * its lifetime, although a process sees only a handful of different ones.
 * Past SHARED_NAMES different names (which no real peer set reaches), the
 * rest are kept per connection.
 */
const shared = (name: string): string => {
  const kept = sharedNames.get(name)
  if (kept !== undefined) return kept
  if (sharedNames.size < SHARED_NAMES) sharedNames.set(name, name)
  return name
}

/**
 * The session of one connection, made by the engine when the handshake
 * completes and read by application fibers from then on. A class, not an
 * object literal with a getter and closures: instances of a class share one
 * shape and their methods, where V8 keeps such a literal as a dictionary,
 * several times larger. Every field is set in the constructor, in one order,
 * so that they do.
 */
class NodeTlsSession implements TlsSession {
  readonly protocol: string
  readonly cipher: string
  readonly group: string | undefined
  readonly alpn: string | undefined
  readonly servername: string | undefined
  readonly peerVerified: boolean
  readonly resumed: boolean
  readonly role: "client" | "server"
  /**
   * Kept for `exportKeyingMaterial`, which asks OpenSSL while the connection
   * lives: the one call an application fiber makes on the TLSSocket. It reads
   * the key schedule and changes nothing the IO fiber relies on.
   */
  private readonly socket: tls.TLSSocket
  /** The DER of the peer's chain as verified, leaf first. */
  private readonly peerChainDer: ReadonlyArray<Buffer>
  /**
   * Decoded on first use: most connections never look, and decoding costs
   * more than a resumed handshake. Written and read by `peerCertificates`,
   * whoever calls it first.
   */
  private decoded: ReadonlyArray<PeerCertificate> | undefined

  constructor(
    socket: tls.TLSSocket,
    role: "client" | "server",
    servername: string | undefined,
    peerVerified: boolean,
    peerChainDer: ReadonlyArray<Buffer>
  ) {
    const cipher = socket.getCipher()
    // Typed `EphemeralKeyInfo | object | null`: empty on a server, `name` only for ECDH.
    const keyInfo = socket.getEphemeralKeyInfo()
    const alpn = socket.alpnProtocol
    this.protocol = shared(socket.getProtocol() ?? "unknown")
    this.cipher = shared(cipher.standardName ?? cipher.name)
    this.group =
      keyInfo !== null && "name" in keyInfo && typeof keyInfo.name === "string" ? shared(keyInfo.name) : undefined
    this.alpn = typeof alpn === "string" ? alpn : undefined
    this.servername = servername
    this.peerVerified = peerVerified
    this.resumed = socket.isSessionReused()
    this.role = role
    this.socket = socket
    this.peerChainDer = peerChainDer
    this.decoded = undefined
    this.exporter = undefined
  }

  get peerCertificates(): ReadonlyArray<PeerCertificate> {
    if (this.decoded !== undefined) return this.decoded
    const decoded: Array<PeerCertificate> = []
    try {
      for (const der of this.peerChainDer) decoded.push(decode(der))
    } catch {
      // A certificate OpenSSL accepted but Node cannot decode: report what decoded.
    }
    this.decoded = decoded
    return decoded
  }

  /**
   * A function value, not a method: `TlsSession` declares it as one, so
   * `const { exportKeyingMaterial } = session` must work. Made on first use
   * (most connections never export keying material), then the same function.
   * Written and read by this getter, whoever calls it first.
   */
  private exporter: TlsSession["exportKeyingMaterial"] | undefined

  get exportKeyingMaterial(): TlsSession["exportKeyingMaterial"] {
    const socket = this.socket
    this.exporter ??= (options) => exportFrom(socket, options)
    return this.exporter
  }
}

const exportFrom = (
  socket: tls.TLSSocket,
  { label, length, context }: ExportKeyingMaterialOptions
): Effect.Effect<Uint8Array, TlsError> => {
  return Effect.try({
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
            reason: new ConnectionClosed({ detail: "exportKeyingMaterial after the connection closed" })
          })
        : new TlsProtocolError({ reason: new Other({ detail: "exportKeyingMaterial failed", cause }) })
  })
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
  const servernameOnSocket = socket.servername
  return new NodeTlsSession(
    socket,
    role,
    facts.servername ?? (typeof servernameOnSocket === "string" ? servernameOnSocket : undefined),
    facts.peerVerified,
    facts.peerChain
  )
}
