/**
 * SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) with the `tls-exporter` channel
 * binding (RFC 9266): the password proof is bound to the TLS session, so a
 * man in the middle who terminates TLS on each side cannot relay it.
 *
 * Message construction only: the transport of the messages is the caller's
 * (see `channel-binding.ts` and `examples/postgres-sslrequest.ts`).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** Why an exchange failed. */
export class ScramError extends Data.TaggedError("ScramError")<{
  readonly reason: "ChannelBindingRequired" | "ChannelBindingMismatch" | "NonceMismatch" | "InvalidProof" | "Malformed"
}> {}

/** The GS2 header of a client that requires `tls-exporter` channel binding. */
const GS2_HEADER = "p=tls-exporter,,"

const hmac = (key: Uint8Array, data: string) => createHmac("sha256", key).update(data).digest()
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest()
const base64 = (data: Uint8Array | string) => Buffer.from(data).toString("base64")
const xor = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.map((byte, i) => byte ^ (b[i] ?? 0)))
const attributes = (message: string) => new Map(message.split(",").map((part) => [part.slice(0, 1), part.slice(2)]))
/** The `c=` attribute: the GS2 header followed by the channel binding data. */
const channelBinding = (binding: Uint8Array) => base64(Buffer.concat([Buffer.from(GS2_HEADER), binding]))

/** What a server stores for a user: never the password. */
export interface StoredCredential {
  readonly salt: Uint8Array
  readonly iterations: number
  readonly storedKey: Uint8Array
  readonly serverKey: Uint8Array
}

export const storeCredential = (password: string, iterations = 4096): StoredCredential => {
  const salt = randomBytes(16)
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256")
  return { salt, iterations, storedKey: sha256(hmac(salted, "Client Key")), serverKey: hmac(salted, "Server Key") }
}

// #region client
/** The client's first message. */
export const clientFirst = (user: string) => {
  const nonce = base64(randomBytes(18))
  const bare = `n=${user},r=${nonce}`
  return { nonce, bare, message: `${GS2_HEADER}${bare}` }
}

/** The client's final message, bound to this TLS session by `binding`, and the server signature to expect. */
export const clientFinal = (options: {
  readonly password: string
  readonly first: ReturnType<typeof clientFirst>
  readonly serverFirst: string
  readonly binding: Uint8Array // TlsSession.tlsExporterChannelBinding(connection.session)
}) =>
  Effect.gen(function* () {
    const server = attributes(options.serverFirst)
    const nonce = server.get("r") ?? ""
    const salt = server.get("s")
    const iterations = Number(server.get("i"))
    if (!nonce.startsWith(options.first.nonce) || salt === undefined || !Number.isSafeInteger(iterations)) {
      return yield* new ScramError({ reason: "Malformed" })
    }
    const withoutProof = `c=${channelBinding(options.binding)},r=${nonce}`
    const authMessage = `${options.first.bare},${options.serverFirst},${withoutProof}`
    const salted = pbkdf2Sync(options.password, Buffer.from(salt, "base64"), iterations, 32, "sha256")
    const clientKey = hmac(salted, "Client Key")
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage))
    return {
      message: `${withoutProof},p=${base64(proof)}`,
      serverFinal: `v=${base64(hmac(hmac(salted, "Server Key"), authMessage))}`
    }
  })
// #endregion client

// #region server
/** The server's first message; fails unless the client requires `tls-exporter` binding. */
export const serverFirst = (clientFirstMessage: string, credential: StoredCredential) =>
  Effect.gen(function* () {
    if (!clientFirstMessage.startsWith(GS2_HEADER)) return yield* new ScramError({ reason: "ChannelBindingRequired" })
    const bare = clientFirstMessage.slice(GS2_HEADER.length)
    const clientNonce = attributes(bare).get("r")
    if (clientNonce === undefined) return yield* new ScramError({ reason: "Malformed" })
    const nonce = `${clientNonce}${base64(randomBytes(18))}`
    return { bare, nonce, message: `r=${nonce},s=${base64(credential.salt)},i=${credential.iterations}` }
  })

/**
 * Checks the client's final message against the server's own view of the TLS
 * session (`binding`) and the stored credential; returns the server's final message.
 */
export const serverFinal = (options: {
  readonly first: { readonly bare: string; readonly nonce: string; readonly message: string }
  readonly clientFinal: string
  readonly credential: StoredCredential
  readonly binding: Uint8Array
}) =>
  Effect.gen(function* () {
    const client = attributes(options.clientFinal)
    if (client.get("c") !== channelBinding(options.binding)) {
      return yield* new ScramError({ reason: "ChannelBindingMismatch" })
    }
    if (client.get("r") !== options.first.nonce) return yield* new ScramError({ reason: "NonceMismatch" })
    const withoutProof = options.clientFinal.slice(0, options.clientFinal.lastIndexOf(",p="))
    const authMessage = `${options.first.bare},${options.first.message},${withoutProof}`
    const proof = Buffer.from(client.get("p") ?? "", "base64")
    const clientKey = xor(proof, hmac(options.credential.storedKey, authMessage))
    if (proof.length !== 32 || !timingSafeEqual(sha256(clientKey), options.credential.storedKey)) {
      return yield* new ScramError({ reason: "InvalidProof" })
    }
    return `v=${base64(hmac(options.credential.serverKey, authMessage))}`
  })
// #endregion server
