/**
 * A throwaway public key infrastructure for tests.
 *
 * Everything is generated in memory at test time with `@peculiar/x509` on
 * Node's WebCrypto: a root CA (the trust anchor), an intermediate CA that signs
 * the leaves, server and client leaves, and the bad certificates a TLS stack
 * must reject (expired, not yet valid, wrong host, self-signed, unknown CA,
 * wrong extended key usage). Output is PEM plus option objects `node:tls`
 * accepts as they are.
 *
 * Generation is memoized per process, keyed by the request, so a suite pays
 * for each certificate once; RSA keys are only made when asked for.
 *
 * Validity periods use the wall clock (`Date.now()`), not Effect's `Clock`:
 * the peer that checks them (OpenSSL) uses real time, and `it.effect` tests
 * run on a `TestClock` that starts at the epoch.
 *
 * @since 0.1.0
 */
// @peculiar/x509 resolves its algorithms with tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import { webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The key algorithm of a certificate: ECDSA on P-256 (the default), Ed25519 or
 * RSA with a 2048-bit modulus (generated only when asked for).
 *
 * @since 0.1.0
 * @category models
 */
export type KeyType = "P-256" | "Ed25519" | "RSA-2048"

/**
 * What a certificate is for, or how it is broken.
 *
 * - `server`: serverAuth, signed by the intermediate.
 * - `client`: clientAuth (mutual TLS), signed by the intermediate.
 * - `expired`, `notYetValid`: a server certificate outside its validity period.
 * - `wrongHost`: a server certificate whose subjectAltName names only
 *   `wrong.example` (unless other names are asked for).
 * - `selfSigned`: a server leaf that signs itself.
 * - `unknownCa`: a server certificate from a second, untrusted root and
 *   intermediate; its chain includes that intermediate.
 * - `wrongUsage`: a certificate with server names but only the clientAuth
 *   extended key usage.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind =
  | "server"
  | "client"
  | "expired"
  | "notYetValid"
  | "wrongHost"
  | "selfSigned"
  | "unknownCa"
  | "wrongUsage"

/**
 * What to put in a leaf. Omitted fields take the defaults of its {@link Kind}:
 * P-256, DNS `localhost` and IP `127.0.0.1`, `::1` (no names for a client).
 *
 * @since 0.1.0
 * @category models
 */
export interface IssueOptions {
  readonly keyType?: KeyType | undefined
  readonly commonName?: string | undefined
  readonly dnsNames?: ReadonlyArray<string> | undefined
  readonly ipAddresses?: ReadonlyArray<string> | undefined
}

/**
 * Options of a test PKI. Two PKIs with different names share nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  /** The key type of the root and intermediate CAs. Default `P-256`. */
  readonly keyType?: KeyType | undefined
  /** Distinguishes PKIs and appears in the subject names. Default `effect-tls test`. */
  readonly name?: string | undefined
}

/**
 * What a TLS server (or a mutual-TLS client) needs: `tls.createServer(options)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** The private key, PKCS#8 PEM. */
  readonly key: string
  /** The leaf followed by its intermediate, PEM. */
  readonly cert: string
  /** The trust anchor (root CA), PEM, used to verify the peer's certificate. */
  readonly ca: string
}

/**
 * What a TLS client needs to trust the test PKI: `tls.connect({ ...options, host, port })`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  readonly ca: string
  readonly servername: string
}

/**
 * A mutual-TLS client's options: trust plus its own certificate and key.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCertificateOptions extends ServerOptions, ClientOptions {}

/**
 * An issued certificate with its key, ready for `node:tls`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued {
  readonly kind: Kind
  readonly keyType: KeyType
  /** The leaf certificate, PEM. */
  readonly cert: string
  /** The leaf and the intermediate that signed it, PEM (the leaf alone when self-signed). */
  readonly chain: string
  /** The private key, PKCS#8 PEM. */
  readonly key: string
  /** The private key, PKCS#8 PEM, hidden from logs. */
  readonly redactedKey: Redacted.Redacted<string>
  /** The trust anchor of the PKI that issued it (never the unknown CA), PEM. */
  readonly ca: string
  /** `{ key, cert: chain, ca }`. */
  readonly serverOptions: ServerOptions
  /** `{ key, cert: chain, ca, servername }`, servername `localhost` by default. */
  readonly clientOptions: (servername?: string) => ClientCertificateOptions
}

/**
 * A test PKI: a root, an intermediate and a memoized issuer of leaves.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestPki {
  readonly name: string
  readonly keyType: KeyType
  /** The root CA certificate, PEM: the trust anchor. */
  readonly root: string
  /** The intermediate CA certificate, PEM: the issuer of the leaves. */
  readonly intermediate: string
  /** `{ ca: root, servername }`, servername `localhost` by default. */
  readonly clientOptions: (servername?: string) => ClientOptions
  readonly issue: (kind: Kind, options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueServer: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueClient: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueExpired: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueNotYetValid: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueWrongHost: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueSelfSigned: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueUnknownCa: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
  readonly issueWrongUsage: (options?: IssueOptions) => Effect.Effect<Issued, CertificateAuthorityError>
}

/** A reason class's constructor, named so that declarations of its subclasses can be emitted. */
type AuthorityReasonClass<Tag extends string> = new (fields: {
  readonly cause: unknown
}) => Cause.YieldableError & { readonly _tag: Tag; readonly cause: unknown }

/** The base of the reasons of a {@link CertificateAuthorityError}: what failed, with the original error as `cause`. */
const AuthorityReason = <Tag extends string>(tag: Tag, what: string): AuthorityReasonClass<Tag> =>
  class extends Data.TaggedError(tag)<{ readonly cause: unknown }> {
    override get message(): string {
      return `${what} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
    }
  }

/**
 * Generating a key pair failed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class KeyGeneration extends AuthorityReason("KeyGeneration", "key generation") {}

/**
 * Signing a certificate failed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Signing extends AuthorityReason("Signing", "signing") {}

/**
 * Exporting a key failed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class KeyExport extends AuthorityReason("KeyExport", "key export") {}

/**
 * Generating a key or a certificate, or exporting a key, failed; the
 * `reason` (a tagged class) says which, with the original error as `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class CertificateAuthorityError extends Data.TaggedError("CertificateAuthorityError")<{
  readonly reason: KeyGeneration | Signing | KeyExport
  readonly cause: unknown
}> {
  constructor(props: { readonly reason: KeyGeneration | Signing | KeyExport }) {
    super({ ...props, cause: props.reason.cause })
  }
  override get message(): string {
    return this.reason.message
  }
}

/**
 * The test PKI as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class CertificateAuthority extends Context.Service<CertificateAuthority, TestPki>()(
  "@effect-tls/test/CertificateAuthority"
) {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * The test PKI named by the options (memoized per process).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fn("CertificateAuthority.make")(function* (
  options?: MakeOptions
): Effect.fn.Return<TestPki, CertificateAuthorityError> {
  const name = options?.name ?? "effect-tls test"
  const keyType = options?.keyType ?? "P-256"
  const trusted = yield* hierarchy(name, keyType, "trusted")
  const root = pem(trusted.root.cert)
  const issue = (kind: Kind, issueOptions: IssueOptions = {}) => {
    const { keyType: leafKeyType, commonName, dnsNames, ipAddresses } = issueOptions
    const key = JSON.stringify([name, keyType, kind, leafKeyType, commonName, dnsNames, ipAddresses])
    return memo(leaves, key, issueLeaf(name, keyType, trusted, kind, issueOptions))
  }
  const pki: TestPki = {
    name,
    keyType,
    root,
    intermediate: pem(trusted.intermediate.cert),
    clientOptions: (servername = "localhost") => ({ ca: root, servername }),
    issue,
    issueServer: (o) => issue("server", o),
    issueClient: (o) => issue("client", o),
    issueExpired: (o) => issue("expired", o),
    issueNotYetValid: (o) => issue("notYetValid", o),
    issueWrongHost: (o) => issue("wrongHost", o),
    issueSelfSigned: (o) => issue("selfSigned", o),
    issueUnknownCa: (o) => issue("unknownCa", o),
    issueWrongUsage: (o) => issue("wrongUsage", o)
  }
  return pki
})

/**
 * Issues a certificate of the given kind from the default PKI.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issue = (kind: Kind, options?: IssueOptions): Effect.Effect<Issued, CertificateAuthorityError> =>
  Effect.flatMap(make(), (pki) => pki.issue(kind, options))

/**
 * A server certificate from the default PKI.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueServer = (options?: IssueOptions) => issue("server", options)

/**
 * A client certificate (mutual TLS) from the default PKI.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueClient = (options?: IssueOptions) => issue("client", options)

/**
 * An expired server certificate from the default PKI.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueExpired = (options?: IssueOptions) => issue("expired", options)

/**
 * A server certificate from the default PKI that is not valid yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueNotYetValid = (options?: IssueOptions) => issue("notYetValid", options)

/**
 * A server certificate from the default PKI for another host only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueWrongHost = (options?: IssueOptions) => issue("wrongHost", options)

/**
 * A self-signed server leaf.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueSelfSigned = (options?: IssueOptions) => issue("selfSigned", options)

/**
 * A server certificate from an untrusted CA.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueUnknownCa = (options?: IssueOptions) => issue("unknownCa", options)

/**
 * A certificate with server names but only the clientAuth extended key usage.
 *
 * @since 0.1.0
 * @category constructors
 */
export const issueWrongUsage = (options?: IssueOptions) => issue("wrongUsage", options)

/**
 * Provides the {@link CertificateAuthority} service for the PKI named by the options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options?: MakeOptions): Layer.Layer<CertificateAuthority, CertificateAuthorityError> =>
  Layer.effect(CertificateAuthority, make(options))

/**
 * Provides the {@link CertificateAuthority} service for the default PKI.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CertificateAuthority, CertificateAuthorityError> = layerWith()

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

x509.cryptoProvider.set(webcrypto)

const subtle = webcrypto.subtle
const HOUR = 3_600_000
const DAY = 24 * HOUR

interface Signer {
  readonly keyType: KeyType
  readonly keys: webcrypto.CryptoKeyPair
  readonly cert: x509.X509Certificate
}

interface Hierarchy {
  readonly root: Signer
  readonly intermediate: Signer
}

interface Algorithms {
  readonly generate: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm
  readonly sign: webcrypto.EcdsaParams | webcrypto.Algorithm
}

const algorithms: Record<KeyType, Algorithms> = {
  "P-256": { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
  Ed25519: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  "RSA-2048": {
    generate: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256"
    },
    sign: { name: "RSASSA-PKCS1-v1_5" }
  }
}

const hierarchies = new Map<string, Promise<Exit.Exit<Hierarchy, CertificateAuthorityError>>>()
const leaves = new Map<string, Promise<Exit.Exit<Issued, CertificateAuthorityError>>>()

/**
 * Runs `effect` once per key and process, detached from the caller (so an
 * interrupted caller does not waste the work); a failure is not remembered.
 */
const memo = <A>(
  cache: Map<string, Promise<Exit.Exit<A, CertificateAuthorityError>>>,
  key: string,
  effect: Effect.Effect<A, CertificateAuthorityError>
): Effect.Effect<A, CertificateAuthorityError> =>
  Effect.flatten(
    Effect.promise(() => {
      const hit = cache.get(key)
      if (hit !== undefined) return hit
      const entry = Effect.runPromiseExit(effect)
      cache.set(key, entry)
      void entry.then((exit) => {
        if (Exit.isFailure(exit) && cache.get(key) === entry) cache.delete(key)
      })
      return entry
    })
  )

const pem = (cert: x509.X509Certificate): string => `${cert.toString("pem").trim()}\n`

const generateKeys = Effect.fn("CertificateAuthority.generateKeys")(function* (keyType: KeyType) {
  const keys = yield* Effect.tryPromise({
    try: () => subtle.generateKey(algorithms[keyType].generate, true, ["sign", "verify"]),
    catch: (cause) => new CertificateAuthorityError({ reason: new KeyGeneration({ cause }) })
  })
  if (!("privateKey" in keys)) {
    return yield* new CertificateAuthorityError({ reason: new KeyGeneration({ cause: `${keyType} gave no key pair` }) })
  }
  return keys
})

const sign = (f: () => Promise<x509.X509Certificate>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new CertificateAuthorityError({ reason: new Signing({ cause }) }) })

const keyIdentifiers = (subject: webcrypto.CryptoKeyPair, issuer: webcrypto.CryptoKeyPair) =>
  Effect.tryPromise({
    try: () =>
      Promise.all([
        x509.SubjectKeyIdentifierExtension.create(subject.publicKey),
        x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey)
      ]),
    catch: (cause) => new CertificateAuthorityError({ reason: new Signing({ cause }) })
  })

const hierarchy = (name: string, keyType: KeyType, trust: "trusted" | "untrusted") =>
  memo(
    hierarchies,
    JSON.stringify([name, keyType, trust]),
    Effect.gen(function* () {
      const label = trust === "trusted" ? name : `${name} untrusted`
      const now = Date.now()
      const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 3650 * DAY) }
      const caUsage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)
      const rootKeys = yield* generateKeys(keyType)
      const [rootSki] = yield* keyIdentifiers(rootKeys, rootKeys)
      const rootCert = yield* sign(() =>
        x509.X509CertificateGenerator.createSelfSigned({
          name: `CN=${label} root CA`,
          keys: rootKeys,
          ...validity,
          signingAlgorithm: algorithms[keyType].sign,
          extensions: [new x509.BasicConstraintsExtension(true, 1, true), caUsage, rootSki]
        })
      )
      const keys = yield* generateKeys(keyType)
      const [ski, aki] = yield* keyIdentifiers(keys, rootKeys)
      const cert = yield* sign(() =>
        x509.X509CertificateGenerator.create({
          subject: `CN=${label} intermediate CA`,
          issuer: rootCert.subject,
          publicKey: keys.publicKey,
          signingKey: rootKeys.privateKey,
          ...validity,
          signingAlgorithm: algorithms[keyType].sign,
          extensions: [new x509.BasicConstraintsExtension(true, 0, true), caUsage, ski, aki]
        })
      )
      const result: Hierarchy = {
        root: { keyType, keys: rootKeys, cert: rootCert },
        intermediate: { keyType, keys, cert }
      }
      return result
    })
  )

const issueLeaf = (name: string, caKeyType: KeyType, trusted: Hierarchy, kind: Kind, options: IssueOptions) =>
  Effect.gen(function* () {
    const keyType = options.keyType ?? "P-256"
    const client = kind === "client"
    const dnsNames = options.dnsNames ?? (client ? [] : kind === "wrongHost" ? ["wrong.example"] : ["localhost"])
    const ipAddresses = options.ipAddresses ?? (client || kind === "wrongHost" ? [] : ["127.0.0.1", "::1"])
    const now = Date.now()
    const [notBefore, notAfter] =
      kind === "expired"
        ? [now - 30 * DAY, now - DAY]
        : kind === "notYetValid"
          ? [now + DAY, now + 30 * DAY]
          : [now - HOUR, now + 30 * DAY]
    const usage = client || kind === "wrongUsage" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth
    const keys = yield* generateKeys(keyType)
    const issuer =
      kind === "selfSigned"
        ? undefined
        : kind === "unknownCa"
          ? (yield* hierarchy(name, caKeyType, "untrusted")).intermediate
          : trusted.intermediate
    const [ski, aki] = yield* keyIdentifiers(keys, issuer?.keys ?? keys)
    const names = [
      ...dnsNames.map((value) => ({ type: "dns" as const, value })),
      ...ipAddresses.map((value) => ({ type: "ip" as const, value }))
    ]
    const params = {
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        ski,
        aki
      ]
    }
    const subject = `CN=${options.commonName ?? `${name} ${kind}`}`
    const cert = yield* sign(() =>
      issuer === undefined
        ? x509.X509CertificateGenerator.createSelfSigned({
            ...params,
            name: subject,
            keys,
            signingAlgorithm: algorithms[keyType].sign
          })
        : x509.X509CertificateGenerator.create({
            ...params,
            subject,
            issuer: issuer.cert.subject,
            publicKey: keys.publicKey,
            signingKey: issuer.keys.privateKey,
            signingAlgorithm: algorithms[issuer.keyType].sign
          })
    )
    const pkcs8 = yield* Effect.tryPromise({
      try: () => subtle.exportKey("pkcs8", keys.privateKey),
      catch: (cause) => new CertificateAuthorityError({ reason: new KeyExport({ cause }) })
    })
    const key = x509.PemConverter.encode(pkcs8, "PRIVATE KEY")
    const ca = pem(trusted.root.cert)
    const chain = issuer === undefined ? pem(cert) : pem(cert) + pem(issuer.cert)
    const serverOptions: ServerOptions = { key, cert: chain, ca }
    const issued: Issued = {
      kind,
      keyType,
      cert: pem(cert),
      chain,
      key,
      redactedKey: Redacted.make(key, { label: `${kind} key` }),
      ca,
      serverOptions,
      clientOptions: (servername = "localhost") => ({ ...serverOptions, servername })
    }
    return issued
  }).pipe(Effect.withSpan("CertificateAuthority.issue", { attributes: { kind, name } }))
