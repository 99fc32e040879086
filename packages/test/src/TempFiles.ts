/**
 * Files for the tools a test runs: a private temporary directory removed
 * with the scope, and the PEM files of an issued certificate, for peers that
 * read their certificates from disk (`openssl`, `gnutls-serv`, `swaks`, a
 * command-line tool under test).
 *
 * @example
 * ```ts
 * import * as CertificateAuthority from "@effect-tls/test/CertificateAuthority"
 * import * as TempFiles from "@effect-tls/test/TempFiles"
 * import * as Effect from "effect/Effect"
 *
 * // The server's chain, leaf, key and the root, in a directory removed with the scope.
 * export const serverFiles = Effect.gen(function* () {
 *   const issued = yield* CertificateAuthority.issueServer()
 *   const files = yield* TempFiles.pem(issued)
 *   return ["-cert", files.cert, "-cert_chain", files.chain, "-key", files.key, "-CAfile", files.ca]
 * })
 * ```
 *
 * @since 0.1.0
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as CertificateAuthority from "./CertificateAuthority.ts"

/**
 * A temporary directory holding `files` (name to content), removed with
 * everything in it when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const directory = (
  files: Readonly<Record<string, string | Uint8Array>> = {}
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(path.join(tmpdir(), "effect-tls-"))
      for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content)
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/**
 * The paths of an issued certificate's PEM files.
 *
 * @since 0.1.0
 * @category models
 */
export interface PemFiles {
  /** The directory they are in. */
  readonly dir: string
  /** The leaf certificate alone. */
  readonly cert: string
  /** The leaf followed by the intermediate that signed it (what a server presents). */
  readonly chain: string
  /** The private key, PKCS#8, readable by its owner only. */
  readonly key: string
  /** The root of the PKI that issued it: what a peer trusts. */
  readonly ca: string
}

/**
 * Writes the PEM files of `issued` into `dir`: `<name>.cert.pem`,
 * `<name>.chain.pem`, `<name>.key.pem` and `ca.pem` (the issuing PKI's root,
 * shared by every certificate of that PKI written there). `name` defaults to
 * the certificate's kind (`server`, `client`, `expired`...).
 *
 * @since 0.1.0
 * @category constructors
 */
export const writePem = (
  dir: string,
  issued: CertificateAuthority.Issued,
  name: string = issued.kind
): Effect.Effect<PemFiles> =>
  Effect.sync(() => {
    const files: PemFiles = {
      dir,
      cert: path.join(dir, `${name}.cert.pem`),
      chain: path.join(dir, `${name}.chain.pem`),
      key: path.join(dir, `${name}.key.pem`),
      ca: path.join(dir, "ca.pem")
    }
    writeFileSync(files.cert, issued.cert)
    writeFileSync(files.chain, issued.chain)
    writeFileSync(files.key, issued.key, { mode: 0o600 })
    // `mode` applies only when the file is created: a rewritten key stays private too.
    chmodSync(files.key, 0o600)
    writeFileSync(files.ca, issued.ca)
    return files
  })

/**
 * The PEM files of `issued` (see {@link writePem}) in a temporary directory
 * of their own, removed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pem = (issued: CertificateAuthority.Issued, name?: string): Effect.Effect<PemFiles, never, Scope.Scope> =>
  Effect.flatMap(directory(), (dir) => writePem(dir, issued, name))
