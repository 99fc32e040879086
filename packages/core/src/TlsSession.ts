/**
 * What was negotiated: read-only facts about an established TLS session.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { TlsError } from "./TlsError.ts"

/**
 * One certificate of the peer's chain, decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerCertificate {
  readonly subject: string
  readonly issuer: string
  /** DNS names and IP addresses of the subjectAltName extension, as `DNS:name` and `IP:address`. */
  readonly subjectAltNames: ReadonlyArray<string>
  readonly validFrom: Date
  readonly validTo: Date
  readonly serialNumber: string
  /** SHA-256 fingerprint of the DER encoding, colon-separated upper-case hex. */
  readonly fingerprint256: string
  readonly der: Uint8Array
}

/**
 * Parameters for a TLS exporter (RFC 5705 / RFC 8446 section 7.5).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportKeyingMaterialOptions {
  readonly label: string
  readonly length: number
  readonly context?: Uint8Array | undefined
}

/**
 * The negotiated session of a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsSession {
  /** `TLSv1.3` or `TLSv1.2`. */
  readonly protocol: string
  /** The IANA/OpenSSL name of the cipher suite. */
  readonly cipher: string
  /** The key exchange group, when the engine reports it (for example `X25519MLKEM768`). */
  readonly group: string | undefined
  /** The negotiated application protocol (ALPN), if any. */
  readonly alpn: string | undefined
  /** The server name the client asked for (SNI), if any. */
  readonly servername: string | undefined
  /** The peer's certificate chain as verified, leaf first; empty when the peer sent none. Decoded on first access. */
  readonly peerCertificates: ReadonlyArray<PeerCertificate>
  /** Whether the peer's certificate chain was verified against the configured trust. */
  readonly peerVerified: boolean
  /** Whether the session was resumed (no full handshake). */
  readonly resumed: boolean
  /** The connection's role. */
  readonly role: "client" | "server"
  /** TLS exporter (RFC 5705): keying material bound to this session. */
  readonly exportKeyingMaterial: (options: ExportKeyingMaterialOptions) => Effect.Effect<Uint8Array, TlsError>
}

/**
 * The label of the `tls-exporter` channel binding (RFC 9266), as used by
 * SCRAM-SHA-256-PLUS.
 *
 * @since 0.1.0
 * @category constants
 */
export const TLS_EXPORTER_LABEL = "EXPORTER-Channel-Binding"

/**
 * The `tls-exporter` channel binding of RFC 9266: 32 bytes exported with the
 * label `EXPORTER-Channel-Binding` and an empty context. Only meaningful on
 * TLS 1.3 (or TLS 1.2 with extended master secret).
 *
 * @since 0.1.0
 * @category combinators
 */
export const tlsExporterChannelBinding = (session: TlsSession): Effect.Effect<Uint8Array, TlsError> =>
  session.exportKeyingMaterial({ label: TLS_EXPORTER_LABEL, length: 32, context: new Uint8Array(0) })
