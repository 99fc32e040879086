/**
 * The certificates every benchmark uses: an ECDSA P-256 server leaf from the
 * test certificate authority, and the TLS options each side passes to
 * `node:tls` (TLS 1.3 with AES-128-GCM forced, so that every implementation
 * encrypts with the same cipher).
 *
 * Credentials are plain strings so that the parent can hand them to its
 * worker processes over IPC: both ends must trust the same root.
 *
 * @since 0.1.0
 */
import type * as tls from "node:tls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** The server's private key, PKCS#8 PEM. */
  readonly key: string
  /** The server leaf followed by its intermediate, PEM. */
  readonly chain: string
  /** The root CA the clients trust, PEM. */
  readonly ca: string
  /** The name the clients verify. */
  readonly servername: string
}

/**
 * The only cipher suite offered: TLS 1.3 AES-128-GCM (Node 24 would pick AES-256-GCM).
 *
 * @since 0.1.0
 * @category constants
 */
export const cipherSuite = "TLS_AES_128_GCM_SHA256"

/**
 * The loopback address every server binds and every client dials.
 *
 * @since 0.1.0
 * @category constants
 */
export const host = "127.0.0.1"

/**
 * Issues a P-256 server certificate from the test CA.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Credentials, CertificateAuthority.CertificateAuthorityError> = Effect.gen(
  function* () {
    const pki = yield* CertificateAuthority.make({ name: "effect-tls bench" })
    const leaf = yield* pki.issueServer({ keyType: "P-256" })
    return { key: leaf.key, chain: leaf.chain, ca: pki.root, servername: "localhost" }
  }
)

/**
 * Options of `tls.createServer` (also accepted by Effect's `NodeSocketServer.makeTls`).
 *
 * @since 0.1.0
 * @category options
 */
export const serverOptions = (credentials: Credentials): tls.TlsOptions => ({
  key: credentials.key,
  cert: credentials.chain,
  minVersion: "TLSv1.3",
  ciphers: cipherSuite
})

/**
 * Options of `tls.connect` without the trust anchors (the caller adds `ca` or
 * a shared `secureContext`).
 *
 * @since 0.1.0
 * @category options
 */
export const clientOptions = (credentials: Credentials, port: number): tls.ConnectionOptions => ({
  host,
  port,
  servername: credentials.servername,
  minVersion: "TLSv1.3",
  ciphers: cipherSuite
})
