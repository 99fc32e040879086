/**
 * From the decoded options (`options.ts`) to Node's, for both paths: the
 * checks of certificates and keys, the shared
 * SecureContexts, the client's session cache, the server's SNI selection
 * (per-name contexts and the resolver), and the per-connection options of the
 * engines. The native path (`makeNativeEngine`) and the duplex path
 * (`makeDuplexEngine`) take the same `EngineOptions` from here, so a
 * configuration behaves the same on both.
 */
import { constants, createHash } from "node:crypto"
import { appendFile } from "node:fs"
import * as net from "node:net"
import * as tls from "node:tls"
import { InvalidCredentials, InvalidOption, TlsConfigError } from "@effect-tls/core/TlsError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as TlsOptions from "../TlsOptions.ts"
import { checkCa, checkCredential } from "./credentials.ts"
import type { EngineExtras, EngineTlsOptions } from "./engine/index.ts"
import * as NodeInternals from "./engine/nodeInternals.ts"
import { type ClientValues, type CommonValues, decodeClient, type ServerConnectionValues, versions } from "./options.ts"
import { SessionIdCache } from "./sessionIdCache.ts"

/** A refused option: `path` names it, `expected` says what is allowed. */
const invalid = (path: string, expected: string, value: unknown) =>
  new TlsConfigError({ reason: new InvalidOption({ path, expected, value }) })

/** What `tls.createSecureContext` takes from the common options. */
const commonContextOptions = (options: CommonValues, extraSecureOptions: number): tls.SecureContextOptions => ({
  minVersion: options.minVersion,
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

/**
 * Makes a SecureContext from options whose credentials were checked (see
 * `credentials.ts`): what OpenSSL can still refuse is the cipher or group
 * lists, or a credential the structural checks passed; `what` names the
 * option set.
 */
const createContext = (options: tls.SecureContextOptions, what: string) =>
  Effect.try({
    try: () => tls.createSecureContext(options),
    catch: (cause) => {
      const detail = cause instanceof Error ? cause.message : String(cause)
      const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined
      if (/cipher/i.test(`${code} ${detail}`)) {
        return invalid("ciphers", `an OpenSSL cipher list OpenSSL accepts (${detail})`, options.ciphers)
      }
      if (/curve|group/i.test(`${code} ${detail}`)) {
        return invalid("groups", `a colon-separated list of groups OpenSSL knows (${detail})`, options.ecdhCurve)
      }
      return new TlsConfigError({ reason: new InvalidCredentials({ path: what, detail, code, cause }) })
    }
  })

/** Checks each credential's structure; `path` names the option (`credentials`, `sni.example.com`). */
const checkCredentials = (
  credentials: ReadonlyArray<TlsOptions.Credential>,
  path: string
): Effect.Effect<void, TlsConfigError> =>
  Effect.suspend(() => {
    for (const [index, credential] of credentials.entries()) {
      const error = checkCredential(credential, `${path}[${index}]`)
      if (error !== undefined) return Effect.fail(error)
    }
    return Effect.void
  })

const keylogExtras = (keylog: CommonValues["keylog"]): EngineExtras => {
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

/**
 * How long a server's sessions resume, by ticket or by ID: OpenSSL's default
 * (2 hours), set on every server context so that the session-ID cache
 * expires its entries with the same bound.
 */
const SESSION_LIFETIME_SECONDS = 2 * 60 * 60

/** What one engine is made with: Node's TLS options and the engine's own. */
export interface EngineOptions {
  readonly tls: EngineTlsOptions
  readonly extras: EngineExtras
}

// -----------------------------------------------------------------------------
// client
// -----------------------------------------------------------------------------

/** Whom a client connection is for. */
export interface ClientTarget {
  /** The default SNI name (unless an IP address) and the name the certificate must match. */
  readonly host: string
  /** Part of the session cache key; absent for a transport the caller brought. */
  readonly port?: number | undefined
  readonly servername?: string | undefined
  readonly alpn?: ReadonlyArray<string> | undefined
}

/** A client configuration resolved once: its SecureContext and session cache serve every connection. */
export interface ClientContext {
  readonly secureContext: tls.SecureContext
  /** The options of one client engine towards `target`, with a cached ticket for it when there is one. */
  readonly engineOptions: (target: ClientTarget) => EngineOptions
  /** Tickets held for resumption. */
  readonly cachedSessions: () => number
}

const SESSION_CACHE_SIZE = 256

/**
 * The latest session ticket per server. Invariant: at most
 * SESSION_CACHE_SIZE entries; Map order is insertion order and every update
 * re-inserts, so the least recently updated entry is evicted first.
 */
class SessionCache {
  private readonly sessions = new Map<string, CachedSession>()
  get size(): number {
    return this.sessions.size
  }
  get(key: string): CachedSession | undefined {
    return this.sessions.get(key)
  }
  set(key: string, session: CachedSession): void {
    this.sessions.delete(key)
    this.sessions.set(key, session)
    if (this.sessions.size > SESSION_CACHE_SIZE) {
      const oldest = this.sessions.keys().next()
      if (oldest.done !== true) this.sessions.delete(oldest.value)
    }
  }
}

/** A ticket, and the server chain verified in the handshake that made it (reported again on resumption). */
interface CachedSession {
  readonly ticket: Buffer
  readonly peerChain: ReadonlyArray<Buffer>
}

/** How many distinct server chains a client keeps for sharing (see `PeerChains`). */
const PEER_CHAINS_SIZE = 4

/**
 * The server chains a client verified last, so that its connections to one
 * server share one copy of the DER rather than one per connection.
 * Invariant: at most PEER_CHAINS_SIZE chains, the most recently seen first;
 * a chain is shared only when byte-equal, certificate by certificate.
 */
class PeerChains {
  private readonly chains: Array<ReadonlyArray<Buffer>> = []

  readonly share = (chain: ReadonlyArray<Buffer>): ReadonlyArray<Buffer> => {
    const chains = this.chains
    for (let i = 0; i < chains.length; i++) {
      const kept = chains[i] as ReadonlyArray<Buffer>
      if (!sameChain(kept, chain)) continue
      if (i > 0) {
        chains.splice(i, 1)
        chains.unshift(kept)
      }
      return kept
    }
    chains.unshift(chain)
    if (chains.length > PEER_CHAINS_SIZE) chains.pop()
    return chain
  }
}

const sameChain = (a: ReadonlyArray<Buffer>, b: ReadonlyArray<Buffer>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (!(a[i] as Buffer).equals(b[i] as Buffer)) return false
  }
  return true
}

/**
 * Builds the SecureContext (and the session cache, unless `sessionCache` is
 * false) of decoded client options, checking the certificates and keys first.
 */
export const clientContext = (options: ClientValues): Effect.Effect<ClientContext, TlsConfigError> =>
  Effect.gen(function* () {
    if (options.ca !== undefined) {
      const caError = checkCa(options.ca, "ca")
      if (caError !== undefined) return yield* caError
    }
    if (options.credential !== undefined) {
      const credentialError = checkCredential(options.credential, "credential")
      if (credentialError !== undefined) return yield* credentialError
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
      "credential"
    )
    const keylog = keylogExtras(options.keylog)
    const verify = options.insecureSkipVerify !== true
    const skipHostname = options.insecureSkipHostnameCheck === true
    const pins = options.pinnedSpkiSha256 === undefined ? {} : { pinnedSpkiSha256: options.pinnedSpkiSha256 }
    const cache = options.sessionCache ? new SessionCache() : undefined
    const sharePeerChain = new PeerChains().share
    const context: ClientContext = {
      secureContext,
      cachedSessions: () => cache?.size ?? 0,
      engineOptions: (target) => {
        const servername =
          target.servername ?? options.servername ?? (net.isIP(target.host) === 0 ? target.host : undefined)
        const alpn = target.alpn ?? options.alpn
        // A ticket is only offered to the server identity it came from.
        const key = `${target.host}|${target.port ?? ""}|${servername ?? ""}|${(alpn ?? []).join(",")}`
        const cached = cache?.get(key)
        return {
          tls: {
            secureContext,
            host: target.host,
            rejectUnauthorized: verify,
            ...(servername === undefined ? {} : { servername }),
            ...(alpn === undefined || alpn.length === 0 ? {} : { ALPNProtocols: [...alpn] }),
            ...(skipHostname ? { checkServerIdentity: () => undefined } : {}),
            ...(cached === undefined ? {} : { session: cached.ticket }),
            ...(options.requestOcsp === true ? { requestOCSP: true } : {})
          },
          extras: {
            ...keylog,
            servername,
            sharePeerChain,
            ...pins,
            ...(cached === undefined ? {} : { resumedPeerChain: cached.peerChain }),
            ...(cache === undefined
              ? {}
              : {
                  onSession: (ticket: Buffer, peerChain: ReadonlyArray<Buffer>) => cache.set(key, { ticket, peerChain })
                })
          }
        }
      }
    }
    return context
  })

/** The options a connection reads per call, not from its client's shared context. */
type PerConnectionOption = "connection" | "connectTimeout" | "path"

/**
 * Every option that shapes a `ClientContext`, named, so that a new client
 * option fails to compile here until it is given a place in the digest.
 */
type ContextShaping = { readonly [K in keyof Omit<TlsOptions.ClientOptions, PerConnectionOption>]-?: unknown }

/**
 * A digest of what shapes a client's context. Secrets enter only the hash,
 * so the key a shared context is kept under reveals nothing.
 */
const contextDigest = (options: TlsOptions.ClientOptions): string => {
  const credential = options.credential
  const shaping: ContextShaping = {
    minVersion: options.minVersion,
    maxVersion: options.maxVersion,
    insecureMinVersion: options.insecureMinVersion,
    ciphers: options.ciphers,
    groups: options.groups,
    alpn: options.alpn,
    keylog: options.keylog === undefined ? undefined : [options.keylog.file, options.keylog.events],
    ca: options.ca,
    systemCa: options.systemCa,
    servername: options.servername,
    credential:
      credential === undefined
        ? undefined
        : [
            credential.cert,
            Redacted.value(credential.key),
            credential.passphrase === undefined ? undefined : Redacted.value(credential.passphrase)
          ],
    pinnedSpkiSha256: options.pinnedSpkiSha256,
    insecureSkipVerify: options.insecureSkipVerify,
    insecureSkipHostnameCheck: options.insecureSkipHostnameCheck,
    requestOcsp: options.requestOcsp,
    sessionCache: options.sessionCache
  }
  return createHash("sha256").update(JSON.stringify(shaping)).digest("hex")
}

/** How many configurations the one-call forms keep a client context for. */
const SHARED_CONTEXTS_SIZE = 32

/**
 * The client contexts of the one-call forms (`NodeTls.connect`,
 * `NodeTls.upgradeClient`), by configuration digest, process-wide as Node's
 * `https.globalAgent` is: calls with equal options share one SecureContext
 * and one session cache, so the simplest API resumes and does not build a
 * context per connection. Invariant: at most SHARED_CONTEXTS_SIZE entries;
 * every use re-inserts, so the least recently used configuration is evicted
 * first (its contexts are then freed with its last connection).
 */
const sharedContexts = new Map<string, ClientContext>()

/**
 * The shared client context of this configuration, made (and validated) on
 * first use. A configuration that fails validation is not kept.
 */
export const sharedClientContext = (options: TlsOptions.ClientOptions): Effect.Effect<ClientContext, TlsConfigError> =>
  Effect.suspend(() => {
    const digest = contextDigest(options)
    const found = sharedContexts.get(digest)
    if (found !== undefined) {
      sharedContexts.delete(digest)
      sharedContexts.set(digest, found)
      return Effect.succeed(found)
    }
    return Effect.tap(Effect.flatMap(decodeClient(options), clientContext), (made) =>
      Effect.sync(() => {
        sharedContexts.set(digest, made)
        if (sharedContexts.size > SHARED_CONTEXTS_SIZE) {
          const oldest = sharedContexts.keys().next()
          if (oldest.done !== true) sharedContexts.delete(oldest.value)
        }
      })
    )
  })

// -----------------------------------------------------------------------------
// server
// -----------------------------------------------------------------------------

/** A server configuration resolved once; `reload` swaps its credentials for new connections. */
export interface ServerContext {
  readonly options: ServerConnectionValues
  /** The options of one server engine, with the credentials current now. */
  readonly engineOptions: () => EngineOptions
  /** Builds the contexts of new credentials; on failure the current ones stay. */
  readonly reload: (
    credentials: ReadonlyArray<TlsOptions.Credential>,
    sni?: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>>
  ) => Effect.Effect<void, TlsConfigError>
}

type SniCallback = (servername: string, callback: (error: Error | null, context?: tls.SecureContext) => void) => void

/** The contexts of one generation of credentials (a reload makes a new one). */
interface Generation {
  readonly default: tls.SecureContext
  /** Exact names (lower case) and `*.suffix` wildcards. */
  readonly byName: ReadonlyMap<string, tls.SecureContext>
  /**
   * Contexts made for names the resolver answered (`undefined`: use the
   * default), kept until the next reload. Invariant: at most
   * RESOLVED_CACHE_SIZE names, so clients inventing names cannot grow it
   * without bound; past that, answers are used without being kept.
   */
  readonly resolved: Map<string, tls.SecureContext | undefined>
  /** Absent when there is nothing to choose between. */
  readonly sniCallback: SniCallback | undefined
  /** Where its TLSSockets report their sessions (see `SessionIdCache`); absent without a cache. */
  readonly sessionStore: net.Server | undefined
}

const RESOLVED_CACHE_SIZE = 1024

/** Runs an SNI resolver's lookup in the server's scope, with the server's services. */
type RunResolver = (
  effect: Effect.Effect<tls.SecureContext | undefined, TlsConfigError>
) => Fiber.Fiber<tls.SecureContext | undefined, TlsConfigError>

/**
 * Validates the server's options and credentials and builds the shared
 * contexts. The SNI resolver's lookups run as fibers of the current scope,
 * with the services of the current context: closing the scope interrupts them.
 */
export const serverContext = (
  options: ServerConnectionValues
): Effect.Effect<ServerContext, TlsConfigError, Scope.Scope> =>
  Effect.gen(function* () {
    if (options.clientAuth !== undefined) {
      const caError = checkCa(options.clientAuth.ca, "clientAuth.ca")
      if (caError !== undefined) return yield* caError
    }
    const run: RunResolver = yield* FiberSet.makeRuntime<never, tls.SecureContext | undefined, TlsConfigError>()
    const generation = (
      credentials: ReadonlyArray<TlsOptions.Credential>,
      sni: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>>
    ) => makeGeneration(options, run, credentials, sni)
    const first = yield* generation(options.credentials, options.sni ?? {})
    const keylog = keylogExtras(options.keylog)
    const idleTimeout = Duration.toMillis(options.idleTimeout)
    const clientAuth =
      options.clientAuth === undefined
        ? {}
        : { requestCert: true, rejectUnauthorized: options.clientAuth.mode === "require" }
    const alpn = options.alpn === undefined ? {} : { ALPNProtocols: [...options.alpn] }
    const extras: EngineExtras = { ...keylog, idleTimeout }
    // One options object per generation, shared by its connections: no
    // options built per accepted connection (the TLSSocket copies them anyway).
    const engineOptionsOf = (of: Generation): EngineOptions => ({
      tls: {
        secureContext: of.default,
        ...clientAuth,
        ...alpn,
        ...(of.sniCallback === undefined ? {} : { SNICallback: of.sniCallback }),
        ...(of.sessionStore === undefined ? {} : { server: of.sessionStore })
      },
      extras
    })
    let currentOptions = engineOptionsOf(first)
    const context: ServerContext = {
      options,
      engineOptions: () => currentOptions,
      reload: (credentials, sni) =>
        Effect.map(generation(credentials, sni ?? options.sni ?? {}), (next) => {
          currentOptions = engineOptionsOf(next)
        })
    }
    return context
  })

const makeGeneration = (
  options: ServerConnectionValues,
  run: RunResolver,
  credentials: ReadonlyArray<TlsOptions.Credential>,
  sni: Readonly<Record<string, ReadonlyArray<TlsOptions.Credential>>>
): Effect.Effect<Generation, TlsConfigError> =>
  Effect.gen(function* () {
    if (credentials.length === 0) return yield* invalid("credentials", "at least one certificate and key", credentials)
    yield* checkCredentials(credentials, "credentials")
    const defaultContext = yield* credentialsContext(options, credentials, "credentials")
    const byName = new Map<string, tls.SecureContext>()
    for (const [name, creds] of Object.entries(sni)) {
      yield* checkCredentials(creds, `sni.${name}`)
      byName.set(name.toLowerCase(), yield* credentialsContext(options, creds, `sni.${name}`))
    }
    const self: Generation = {
      default: defaultContext,
      byName,
      resolved: new Map(),
      sniCallback:
        byName.size === 0 && options.resolveSni === undefined
          ? undefined
          : (servername, callback) => selectContext(options, run, self, servername, callback),
      sessionStore: sessionStoreOf(options)
    }
    return self
  })

/**
 * A new session-ID cache for one generation, as its TLSSockets' `server`;
 * none when it would hold nothing (size 0, or TLS 1.3 only: such clients
 * resume with tickets). Its cost when there is one, on every handshake
 * (TLS 1.3 ones too): Node parses the ClientHello for its session ID and
 * looks it up, and OpenSSL reports each new session (TLS 1.3: one per
 * ticket, dropped here). Not measurable against a full handshake's CPU
 * (the server guide has the figures).
 */
const sessionStoreOf = (options: ServerConnectionValues): net.Server | undefined => {
  const size = options.sessionCacheSize
  const tls12 = versions.indexOf(options.minVersion) <= versions.indexOf("TLSv1.2")
  if (size === 0 || !tls12) return undefined
  const cache = new SessionIdCache(size, SESSION_LIFETIME_SECONDS * 1000)
  return NodeInternals.sessionStore(
    (id, session) => cache.store(id, session),
    (id) => cache.lookup(id)
  )
}

/** One server SecureContext: credentials, client-certificate trust, tickets. */
const credentialsContext = (
  options: ServerConnectionValues,
  credentials: ReadonlyArray<TlsOptions.Credential>,
  what: string
): Effect.Effect<tls.SecureContext, TlsConfigError> => {
  const clientCa = options.clientAuth?.ca
  const ca = clientCa === undefined ? undefined : typeof clientCa === "string" ? [clientCa] : [...clientCa]
  return createContext(
    {
      ...commonContextOptions(options, options.tickets === false ? constants.SSL_OP_NO_TICKET : 0),
      ...credentialOptions(credentials),
      ...(ca === undefined ? {} : { ca }),
      sessionIdContext: sessionIdContext(credentials, options.clientAuth?.mode, ca),
      sessionTimeout: SESSION_LIFETIME_SECONDS
    },
    what
  )
}

/**
 * OpenSSL resumes a session only in the context that made it, named by this
 * id, and refuses to resume at all when it verifies client certificates and
 * the id is unset (the handshake then fails with internal_error). The id
 * covers what a resumed session skips: the server's certificates and the
 * client-certificate policy and trust. 32 hex digits: OpenSSL's limit is 32 bytes.
 */
const sessionIdContext = (
  credentials: ReadonlyArray<TlsOptions.Credential>,
  clientAuth: string | undefined,
  ca: ReadonlyArray<string | Buffer> | undefined
): string => {
  const hash = createHash("sha256")
  for (const credential of credentials) hash.update(credential.cert).update("\0")
  hash.update(`client-auth:${clientAuth ?? "none"}\0`)
  for (const anchor of ca ?? []) hash.update(anchor).update("\0")
  return hash.digest("hex").slice(0, 32)
}

/**
 * Node's SNICallback: the exact name, then the `*.` wildcard of its parent,
 * then what the resolver answered before, then the resolver (an Effect run as
 * a fiber of the server's scope, not in the IO fiber: Node waits for the
 * callback, the IO fiber does not). The callback is called once, when that
 * fiber ends, whether it succeeds, fails or is interrupted.
 */
const selectContext = (
  options: ServerConnectionValues,
  run: RunResolver,
  current: Generation,
  servername: string,
  callback: (error: Error | null, context?: tls.SecureContext) => void
): void => {
  const name = servername.toLowerCase()
  const dot = name.indexOf(".")
  const known = current.byName.get(name) ?? (dot < 0 ? undefined : current.byName.get(`*${name.slice(dot)}`))
  const resolve = options.resolveSni
  if (known !== undefined || resolve === undefined || current.resolved.has(name)) {
    callback(null, known ?? current.resolved.get(name) ?? current.default)
    return
  }
  const lookup = Effect.flatMap(resolve(name), (credentials) =>
    credentials === undefined
      ? Effect.succeed(undefined)
      : Effect.andThen(
          checkCredentials(credentials, `resolveSni(${name})`),
          credentialsContext(options, credentials, `resolveSni(${name})`)
        )
  )
  run(lookup).addObserver((exit) => {
    if (Exit.isFailure(exit)) {
      callback(new Error(`the SNI resolver failed for ${name}: ${Cause.pretty(exit.cause)}`))
      return
    }
    if (current.resolved.size < RESOLVED_CACHE_SIZE) current.resolved.set(name, exit.value)
    callback(null, exit.value ?? current.default)
  })
}
