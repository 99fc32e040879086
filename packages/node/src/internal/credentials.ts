/**
 * The structural checks of certificates, keys and CA bundles given as
 * options, done with `node:crypto` before any SecureContext is made: a
 * failure is a `TlsConfigError` `InvalidCredentials` naming the option and
 * why, decided by what the input is, not by the text of OpenSSL's message.
 *
 * Code options take PEM text. A value that is not PEM but looks like a file
 * path is refused saying so (the config-provider layer, `NodeTlsConfig`,
 * reads files and is where paths belong).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto"
import { InvalidCredentials, TlsConfigError } from "@effect-tls/core/TlsError"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type * as TlsOptions from "../TlsOptions.ts"

const refuse = (path: string, detail: string, cause?: unknown) =>
  new TlsConfigError({
    reason: new InvalidCredentials({
      path,
      detail,
      code: Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined,
      ...(cause === undefined ? {} : { cause })
    })
  })

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g

/**
 * What a value that is not PEM looks like, for the message: a file path (one
 * line, no spaces around, a slash or a certificate-like extension), or
 * something else.
 */
const notPem = (value: string, expected: string): string => {
  const trimmed = value.trim()
  if (trimmed.length === 0) return `expected ${expected}, got an empty string`
  const looksLikePath =
    !/[\r\n]/.test(trimmed) &&
    (/^(?:\.{0,2}\/|~\/|[A-Za-z]:\\)/.test(trimmed) || /\.(?:pem|crt|cer|key|der|p12|pfx)$/i.test(trimmed))
  return looksLikePath
    ? `expected ${expected}, got what looks like a file path (${JSON.stringify(trimmed)}): read the file and pass its text, or use NodeTlsConfig, which reads paths`
    : `expected ${expected}, got text with no PEM block (-----BEGIN ...-----)`
}

const message = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** The certificates of a PEM text, parsed; a failure names `path`. */
const certificates = (pem: string, path: string): ReadonlyArray<X509Certificate> | TlsConfigError => {
  const blocks = [...pem.matchAll(PEM_BLOCK)]
  const certs = blocks.filter((block) => block[1] === "CERTIFICATE" || block[1] === "TRUSTED CERTIFICATE")
  if (certs.length === 0) {
    return refuse(
      path,
      blocks.length === 0
        ? notPem(pem, "PEM text with a certificate")
        : `expected a certificate, got a PEM ${blocks[0]?.[1] ?? ""} block`
    )
  }
  const parsed: Array<X509Certificate> = []
  for (const [index, block] of certs.entries()) {
    try {
      parsed.push(new X509Certificate(block[0]))
    } catch (cause) {
      return refuse(path, `certificate ${index + 1} does not parse: ${message(cause)}`, cause)
    }
  }
  return parsed
}

/** Checks a CA bundle (`ca`, `clientAuth.ca`): one PEM text or several, each with at least one certificate. */
export const checkCa = (ca: string | ReadonlyArray<string>, path: string): TlsConfigError | undefined => {
  const texts = typeof ca === "string" ? [ca] : ca
  for (const [index, text] of texts.entries()) {
    const parsed = certificates(text, typeof ca === "string" ? path : `${path}[${index}]`)
    if (parsed instanceof TlsConfigError) return parsed
  }
  return undefined
}

/**
 * Checks a certificate and key: the certificate parses, the key parses (with
 * its passphrase, if encrypted) and is the certificate's.
 */
export const checkCredential = (credential: TlsOptions.Credential, path: string): TlsConfigError | undefined => {
  const certs = certificates(credential.cert, `${path}.cert`)
  if (certs instanceof TlsConfigError) return certs
  const keyPem = Redacted.value(credential.key)
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    // The key's text is never shown: only whether it looks like a path.
    const said = notPem(keyPem, "PEM text with a private key")
    return refuse(`${path}.key`, said.includes("file path") ? said.replace(/ \(".*"\)/, "") : said)
  }
  // An encrypted key says so in its PEM label (PKCS #8) or headers (OpenSSL's
  // traditional format); without a passphrase OpenSSL's failure names nothing useful.
  const isEncrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem)
  if (isEncrypted && credential.passphrase === undefined) {
    return refuse(`${path}.passphrase`, "the key is encrypted and no passphrase was given")
  }
  let key: KeyObject
  try {
    key = createPrivateKey({
      key: keyPem,
      format: "pem",
      ...(credential.passphrase === undefined ? {} : { passphrase: Redacted.value(credential.passphrase) })
    })
  } catch (cause) {
    if (isEncrypted) return refuse(`${path}.passphrase`, "the passphrase does not decrypt the key", cause)
    return refuse(`${path}.key`, `the key does not parse: ${message(cause)}`, cause)
  }
  const leaf = certs[0] as X509Certificate
  if (!leaf.checkPrivateKey(key)) {
    return refuse(`${path}.key`, `the key is not the certificate's (subject ${leaf.subject.replace(/\n/g, ", ")})`)
  }
  return undefined
}
