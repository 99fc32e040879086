/**
 * From the public options to Node's: validation, the shared SecureContexts,
 * and the per-connection options of the engines.
 */
import { constants } from "node:crypto"
import { appendFile } from "node:fs"
import * as net from "node:net"
import * as tls from "node:tls"
import { TlsConfigError } from "@effect-tls/core/TlsError"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as TlsOptions from "../TlsOptions.ts"
import type { EngineExtras, EngineTlsOptions } from "./tlsSocketEngine.ts"

const versions: ReadonlyArray<TlsOptions.TlsVersion> = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

const invalid = (detail: string, cause?: unknown) =>
  new TlsConfigError({ reason: "InvalidOption", detail, ...(cause === undefined ? {} : { cause }) })

const checkCommon = (options: TlsOptions.CommonOptions): TlsConfigError | undefined => {
  const min = options.minVersion ?? "TLSv1.2"
  if (!versions.includes(min)) return invalid(`unknown minVersion ${min}`)
  if (versions.indexOf(min) < versions.indexOf("TLSv1.2") && options.insecureMinVersion !== true) {
    return invalid(`minVersion ${min} is below TLS 1.2: set insecureMinVersion to allow it`)
  }
  if (options.maxVersion !== undefined) {
    if (!versions.includes(options.maxVersion)) return invalid(`unknown maxVersion ${options.maxVersion}`)
    if (versions.indexOf(options.maxVersion) < versions.indexOf(min)) {
      return invalid(`maxVersion ${options.maxVersion} is below minVersion ${min}`)
    }
  }
  for (const protocol of options.alpn ?? []) {
    const length = Buffer.byteLength(protocol)
    if (length === 0 || length > 255) return invalid(`ALPN protocol names must have 1 to 255 bytes: "${protocol}"`)
  }
  return undefined
}

/** What `tls.createSecureContext` takes from the common options. */
const commonContextOptions = (
  options: TlsOptions.CommonOptions,
  extraSecureOptions: number
): tls.SecureContextOptions => ({
  minVersion: options.minVersion ?? "TLSv1.2",
  ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
  ...(options.ciphers === undefined ? {} : { ciphers: options.ciphers }),
  ...(options.groups === undefined ? {} : { ecdhCurve: options.groups }),
  // Renegotiation (TLS 1.2) is refused in both roles.
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION | extraSecureOptions
})

const credentialOptions = (credentials: ReadonlyArray<TlsOptions.Credential>): tls.SecureContextOptions => ({
  cert: credentials.map((credential) => credential.cert),
  key: credentials.map((credential) => ({
    pem: Redacted.value(credential.key),
    ...(credential.passphrase === undefined ? {} : { passphrase: Redacted.value(credential.passphrase) })
  }))
})

const createContext = (options: tls.SecureContextOptions, what: string) =>
  Effect.try({
    try: () => tls.createSecureContext(options),
    catch: (cause) =>
      new TlsConfigError({
        reason: /key|cert|PEM|passphrase|decrypt/i.test(String(cause)) ? "InvalidCredentials" : "InvalidOption",
        detail: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })

const keylogExtras = (keylog: TlsOptions.KeylogOptions | undefined): EngineExtras => {
  const file = keylog?.file
  return {
    keylog: keylog?.events === true,
    ...(file === undefined
      ? {}
      : {
          // Node's own --tls-keylog does the same: append, owner-only, errors ignored.
          onKeylog: (line: Buffer) => appendFile(file, line, { mode: 0o600 }, () => {})
        })
  }
}

/** A client configuration resolved once: its SecureContext is shared by every connection. */
export interface ClientContext {
  readonly options: TlsOptions.ClientOptions
  readonly secureContext: tls.SecureContext
  readonly engineOptions: (params: {
    readonly host: string
    readonly servername?: string | undefined
    readonly alpn?: ReadonlyArray<string> | undefined
    readonly session?: Buffer | undefined
    readonly onSession?: ((session: Buffer) => void) | undefined
  }) => { readonly tls: EngineTlsOptions; readonly extras: EngineExtras }
}

const spkiPin = /^[A-Za-z0-9+/]{43}=$/

/** Validates client options and builds their SecureContext. */
export const clientContext = (options: TlsOptions.ClientOptions): Effect.Effect<ClientContext, TlsConfigError> =>
  Effect.gen(function* () {
    const error = checkCommon(options)
    if (error !== undefined) return yield* error
    for (const pin of options.pinnedSpkiSha256 ?? []) {
      if (!spkiPin.test(pin)) return yield* invalid(`not a base64 SHA-256 SPKI pin: "${pin}"`)
    }
    const ca = options.ca === undefined ? undefined : typeof options.ca === "string" ? [options.ca] : [...options.ca]
    const trust =
      ca === undefined ? {} : { ca: options.systemCa === true ? [...tls.getCACertificates("default"), ...ca] : ca }
    const secureContext = yield* createContext(
      {
        ...commonContextOptions(options, 0),
        ...trust,
        ...(options.credential === undefined ? {} : credentialOptions([options.credential]))
      },
      "client options"
    )
    const keylog = keylogExtras(options.keylog)
    const verify = options.insecureSkipVerify !== true
    const skipHostname = options.insecureSkipHostnameCheck === true
    const context: ClientContext = {
      options,
      secureContext,
      engineOptions: (params) => {
        const servername =
          params.servername ?? options.servername ?? (net.isIP(params.host) === 0 ? params.host : undefined)
        const alpn = params.alpn ?? options.alpn
        return {
          tls: {
            secureContext,
            host: params.host,
            rejectUnauthorized: verify,
            ...(servername === undefined ? {} : { servername }),
            ...(alpn === undefined || alpn.length === 0 ? {} : { ALPNProtocols: [...alpn] }),
            ...(skipHostname ? { checkServerIdentity: () => undefined } : {}),
            ...(params.session === undefined ? {} : { session: params.session }),
            ...(options.requestOcsp === true ? { requestOCSP: true } : {})
          },
          extras: {
            ...keylog,
            servername,
            ...(options.pinnedSpkiSha256 === undefined ? {} : { pinnedSpkiSha256: options.pinnedSpkiSha256 }),
            ...(params.onSession === undefined ? {} : { onSession: params.onSession })
          }
        }
      }
    }
    return context
  })

/** The server's contexts of one generation of credentials (a reload makes a new one). */
export interface ServerContexts {
  readonly default: tls.SecureContext
  /** Exact names and `*.suffix` wildcards. */
  readonly byName: ReadonlyMap<string, tls.SecureContext>
  /** Contexts made for names the resolver answered, kept until the next reload. */
  readonly resolved: Map<string, tls.SecureContext | undefined>
}

/** Validates the server's options and credentials and builds the contexts. */
export const serverContexts = (
  options: TlsOptions.ServerOptions,
  credentials: ReadonlyArray<TlsOptions.Credential> = options.credentials,
  sni: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>> = options.sni ?? {}
): Effect.Effect<ServerContexts, TlsConfigError> =>
  Effect.gen(function* () {
    const error = checkCommon(options)
    if (error !== undefined) return yield* error
    if (credentials.length === 0) return yield* invalid("the server needs at least one certificate and key")
    const build = (creds: ReadonlyArray<TlsOptions.Credential>, what: string) => serverContext(options, creds, what)
    const defaultContext = yield* build(credentials, "server credentials")
    const byName = new Map<string, tls.SecureContext>()
    for (const [name, creds] of Object.entries(sni)) {
      byName.set(name.toLowerCase(), yield* build(creds, `credentials for ${name}`))
    }
    return { default: defaultContext, byName, resolved: new Map() }
  })

/** One server SecureContext: credentials, client-certificate trust, tickets. */
export const serverContext = (
  options: TlsOptions.ServerOptions,
  credentials: ReadonlyArray<TlsOptions.Credential>,
  what: string
): Effect.Effect<tls.SecureContext, TlsConfigError> => {
  const clientCa = options.clientAuth?.ca
  return createContext(
    {
      ...commonContextOptions(options, options.tickets === false ? constants.SSL_OP_NO_TICKET : 0),
      ...credentialOptions(credentials),
      ...(clientCa === undefined ? {} : { ca: typeof clientCa === "string" ? [clientCa] : [...clientCa] })
    },
    what
  )
}

/** The context for `servername`: exact name, then `*.` wildcard of its parent. */
export const lookupSni = (contexts: ServerContexts, servername: string): tls.SecureContext | undefined => {
  const name = servername.toLowerCase()
  const exact = contexts.byName.get(name)
  if (exact !== undefined) return exact
  const dot = name.indexOf(".")
  return dot < 0 ? undefined : contexts.byName.get(`*${name.slice(dot)}`)
}

export const serverKeylog = keylogExtras
