/**
 * The throwaway certificate authority of `serve` without `--cert`: a fresh
 * root (under a random name, so that it is never mistaken for another) and a
 * server certificate it signs for localhost, 127.0.0.1 and ::1. The root goes to a
 * file in a private temporary directory that is removed with the scope: the
 * CA's keys die with the process, so the file is useless afterwards.
 */
import { randomBytes, X509Certificate } from "node:crypto"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Certificates from "./certificates.ts"

/** What serve needs to run on the ephemeral CA, and what it tells the user. */
export interface Ephemeral {
  /** The server's certificate, PEM (the root signs it directly). */
  readonly chain: string
  /** The server's private key, PKCS#8 PEM. */
  readonly key: string
  /** The root CA, PEM: what clients must trust. */
  readonly root: string
  /** Where the root was written. */
  readonly caPath: string
  /** SHA-256 fingerprint of the server certificate, colon-separated hex. */
  readonly fingerprint: string
  /** The names in the server certificate. */
  readonly names: ReadonlyArray<string>
}

/** Creates the CA, the server certificate and the CA file (removed when the scope closes). */
export const make = Effect.fn("EphemeralCa.make")(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* Certificates.root(`effect-tls ephemeral CA ${randomBytes(4).toString("hex")}`)
  const dnsNames = ["localhost"]
  const ipAddresses = ["127.0.0.1", "::1"]
  const leaf = yield* Certificates.serverLeaf(root, { commonName: "localhost", dnsNames, ipAddresses })
  const directory = yield* fs.makeTempDirectoryScoped({ prefix: "effect-tls-" })
  const caPath = path.join(directory, "ca.pem")
  yield* fs.writeFileString(caPath, root.cert)
  const ephemeral: Ephemeral = {
    chain: leaf.cert,
    key: leaf.key,
    root: root.cert,
    caPath,
    fingerprint: new X509Certificate(leaf.cert).fingerprint256,
    names: [...dnsNames.map((n) => `DNS:${n}`), ...ipAddresses.map((a) => `IP:${a}`)]
  }
  return ephemeral
})
