/**
 * The certificates of `serve`'s throwaway CA, made with `@peculiar/x509` on
 * Node's WebCrypto: a self-signed root and a server leaf it signs, both ECDSA
 * P-256 with SHA-256. Their extensions are the ones strict verifiers ask for
 * (OpenSSL's and Python's X.509 strict mode): a critical basicConstraints, key
 * usages, the subject key identifier, and on the leaf the authority key
 * identifier, serverAuth and the subjectAltName.
 */
// @peculiar/x509 resolves its algorithms with tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import { KeyObject, randomBytes, webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** Making a key or signing a certificate failed. */
export class CertificateError extends Data.TaggedError("CertificateError")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `creating the ephemeral CA failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** A certificate and its private key, PEM. */
export interface Pair {
  /** The certificate, PEM. */
  readonly cert: string
  /** The private key, PKCS#8 PEM. */
  readonly key: string
}

/** What the leaf is for. */
export interface LeafOptions {
  readonly commonName: string
  readonly dnsNames: ReadonlyArray<string>
  readonly ipAddresses: ReadonlyArray<string>
}

const crypto = webcrypto
const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const
const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" } as const
const HOUR = 60 * 60 * 1000
/** The keys live only in the process's memory: the certificates can outlast any run. */
const VALIDITY = 365 * 24 * HOUR

const generateKeys = () => crypto.subtle.generateKey(ecdsa, true, ["sign", "verify"])

/** A positive serial number of 16 random bytes, hex (the top bit clear keeps it positive in DER). */
const serialNumber = () => {
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return bytes.toString("hex")
}

/** Starts an hour ago, so that a peer whose clock is a little behind accepts it. */
const validity = () => {
  const now = Date.now()
  return { notBefore: new Date(now - HOUR), notAfter: new Date(now + VALIDITY) }
}

const pkcs8 = (key: webcrypto.CryptoKey): string =>
  KeyObject.from(key).export({ type: "pkcs8", format: "pem" }).toString()

const attempt = <A>(evaluate: () => Promise<A>) =>
  Effect.tryPromise({ try: evaluate, catch: (cause) => new CertificateError({ cause }) })

/** A CA that signs leaves: its certificate, and its keys (which never leave the process). */
export interface Issuer {
  /** The certificate, PEM. */
  readonly cert: string
  readonly name: x509.Name
  readonly keys: webcrypto.CryptoKeyPair
}

/** A self-signed root CA that signs leaves only (path length 0). */
export const root = (commonName: string) =>
  attempt(async (): Promise<Issuer> => {
    const keys = await generateKeys()
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serialNumber(),
        name: [{ CN: [commonName] }],
        ...validity(),
        signingAlgorithm,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)
        ]
      },
      crypto
    )
    return { cert: cert.toString("pem"), name: cert.subjectName, keys }
  })

/** A server certificate for the given names, signed by the issuer. */
export const serverLeaf = (issuer: Issuer, options: LeafOptions) =>
  attempt(async (): Promise<Pair> => {
    const keys = await generateKeys()
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject: [{ CN: [options.commonName] }],
        issuer: issuer.name,
        ...validity(),
        signingAlgorithm,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension([
            ...options.dnsNames.map((value) => ({ type: "dns" as const, value })),
            ...options.ipAddresses.map((value) => ({ type: "ip" as const, value }))
          ]),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey, false, crypto)
        ]
      },
      crypto
    )
    return { cert: cert.toString("pem"), key: pkcs8(keys.privateKey) }
  })
