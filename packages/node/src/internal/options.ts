/**
 * The option sets of the Node client and server as Schemas, the one source
 * of their types (`TlsOptions`: each set's encoded side, what code passes),
 * their defaults (what decoding fills in) and their checks (decoding, once,
 * when a client, a server or an upgrade is made). The same fields, with
 * codecs that read PEM files and comma-separated lists, are the
 * configuration's (`NodeTlsConfig`), so code and configuration cannot drift.
 *
 * What a schema cannot see stays a check of its own: the structure of
 * certificates and keys (`credentials.ts`, `InvalidCredentials`), and what
 * only OpenSSL can tell (cipher and group lists, when the context is made).
 */
import * as TlsConfig from "@effect-tls/core/TlsConfig"
import type { TlsConfigError, TlsError } from "@effect-tls/core/TlsError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Peer } from "../NodeTlsServer.ts"
import * as Runtime from "./runtime.ts"
import { DEFAULT_MAX_ENTRIES } from "./sessionIdCache.ts"

// -----------------------------------------------------------------------------
// values
// -----------------------------------------------------------------------------

/** The defaults of the server's limits (`NodeTlsServer.defaults`), filled in by decoding. */
export const serverDefaults = {
  maxConnections: 1024,
  idleTimeout: Duration.minutes(5),
  shutdownTimeout: Duration.seconds(10),
  sessionCacheSize: DEFAULT_MAX_ENTRIES
} as const

/** The default bound on a TCP connect, DNS included. */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(10)

/** The versions, oldest first: a version's index orders it. */
export const versions = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const

/** A version as Node names it. */
export const TlsVersion = Schema.Literals(["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"]).annotate({
  expected: "TLSv1.3, TLSv1.2, TLSv1.1 or TLSv1"
})

/** The path TLS runs on over TCP. */
export const Path = Schema.Literals(["native", "duplex"]).annotate({ expected: '"native" or "duplex"' })

/** A flag; `expected` names it plainly for a value of another type. */
const Flag = Schema.Boolean.annotate({ expected: "true or false" })

/** Any string (a name, an OpenSSL list). */
const Text = Schema.String.annotate({ expected: "a string" })

/** An integer from `minimum` to `maximum`, both included; `expected` says so in words. */
const integer = (minimum: number, maximum: number, expected: string) =>
  Schema.Number.annotate({ expected }).check(
    Schema.makeFilter((n: number) => (Number.isSafeInteger(n) && n >= minimum && n <= maximum) || expected)
  )

const PORT_EXPECTED = "a TCP port, an integer from 1 to 65535"
/** A port to connect to. */
export const Port = integer(1, 65535, PORT_EXPECTED)
/** A port to listen on: 0 asks the system for a free one. */
const ListenPort = integer(0, 65535, "a TCP port, an integer from 0 (any free port) to 65535")

/** A function option: what a schema can check of it is that it is one. */
const fn = <F>(expected: string) =>
  Schema.declare((u: unknown): u is F => typeof u === "function", { expected: `a function (${expected})` })

/** An optional field (absent or `undefined`) that decodes to `value` when not given. */
const withDefault = <S extends Schema.Top & { readonly Encoded: unknown }>(value: S["Encoded"]) =>
  Schema.withDecodingDefault<S>(Effect.succeed(value))

const ALPN_EXPECTED = "a protocol name of 1 to 255 bytes"

/** ALPN names: each 1 to 255 bytes, the failure pointing at the one that is not. */
const alpnCheck = Schema.makeFilter((protocols: ReadonlyArray<string>) => {
  for (const [index, protocol] of protocols.entries()) {
    const length = Buffer.byteLength(protocol)
    if (length === 0 || length > 255) return { path: [index], issue: ALPN_EXPECTED }
  }
  return undefined
})

const SPKI_PIN = /^[A-Za-z0-9+/]{43}=$/
const PIN_EXPECTED = "a base64 SHA-256 SPKI pin (44 characters ending in =)"

const pinsCheck = Schema.makeFilter((pins: ReadonlyArray<string>) => {
  for (const [index, pin] of pins.entries()) {
    if (!SPKI_PIN.test(pin)) return { path: [index], issue: PIN_EXPECTED }
  }
  return undefined
})

/**
 * The versions in force: a minimum below TLS 1.2 only with
 * `insecureMinVersion`, a maximum not below the minimum.
 */
export const versionsCheck = Schema.makeFilter(
  (options: {
    readonly minVersion: TlsVersionValue
    readonly maxVersion?: TlsVersionValue | undefined
    readonly insecureMinVersion?: boolean | undefined
  }) => {
    const min = versions.indexOf(options.minVersion)
    if (min < versions.indexOf("TLSv1.2") && options.insecureMinVersion !== true) {
      return { path: ["minVersion"], issue: "TLSv1.2 or TLSv1.3 (set insecureMinVersion to allow an older one)" }
    }
    if (options.maxVersion !== undefined && versions.indexOf(options.maxVersion) < min) {
      return { path: ["maxVersion"], issue: `a version at or above minVersion (${options.minVersion})` }
    }
    return undefined
  }
)

type TlsVersionValue = typeof TlsVersion.Type

// -----------------------------------------------------------------------------
// codecs: what differs between code and configuration
// -----------------------------------------------------------------------------

/**
 * How the fields that code and configuration write differently are read:
 * certificates (PEM text in code; text or a file path in configuration),
 * secrets (`Redacted` in code, strings in configuration) and lists.
 */
export interface Codecs<
  Pem extends Schema.Codec<string, unknown>,
  CaBundle extends Schema.Codec<string | ReadonlyArray<string>, unknown>,
  SecretPem extends Schema.Codec<Redacted.Redacted<string>, unknown>,
  Secret extends Schema.Codec<Redacted.Redacted<string>, unknown>,
  List extends Schema.Codec<ReadonlyArray<string>, unknown>
> {
  readonly pem: Pem
  readonly caBundle: CaBundle
  readonly secretPem: SecretPem
  readonly secret: Secret
  readonly list: List
}

const PemText = Schema.String.annotate({ expected: "PEM text" })

/** Code's: PEM text (checked for structure after decoding) and `Redacted` secrets. */
export const codeCodecs = {
  pem: PemText,
  caBundle: Schema.Union([PemText, Schema.Array(PemText)]).annotate({ expected: "PEM text, or an array of PEM texts" }),
  secretPem: Schema.Redacted(Schema.String).annotate({ expected: "a Redacted PEM text (Redacted.make(pem))" }),
  secret: Schema.Redacted(Schema.String).annotate({ expected: "a Redacted string (Redacted.make(passphrase))" }),
  list: Schema.Array(Text).annotate({ expected: "an array of strings" })
}

// -----------------------------------------------------------------------------
// fields
// -----------------------------------------------------------------------------

/** The type parameters of a factory of fields: each codec's own type, so that the fields keep theirs. */
type AnyCodecs = Codecs<
  Schema.Codec<string, unknown>,
  Schema.Codec<string | ReadonlyArray<string>, unknown>,
  Schema.Codec<Redacted.Redacted<string>, unknown>,
  Schema.Codec<Redacted.Redacted<string>, unknown>,
  Schema.Codec<ReadonlyArray<string>, unknown>
>

export const credential = <
  Pem extends AnyCodecs["pem"],
  SecretPem extends AnyCodecs["secretPem"],
  Secret extends AnyCodecs["secret"]
>(codecs: {
  readonly pem: Pem
  readonly secretPem: SecretPem
  readonly secret: Secret
}) =>
  Schema.Struct({
    cert: codecs.pem,
    key: codecs.secretPem,
    /** The passphrase of an encrypted key. */
    passphrase: Schema.optional(codecs.secret)
  })

const keylog = Schema.Struct({
  /** A file the lines are appended to (created owner-only). */
  file: Schema.optional(Text),
  /** Publish each line as a `Keylog` event on the connection. */
  events: Schema.optional(Flag)
})

/** What both sides configure. */
const commonFields = <List extends AnyCodecs["list"]>(codecs: { readonly list: List }) => ({
  /** Default `TLSv1.2`. Lower versions need `insecureMinVersion`. */
  minVersion: TlsVersion.pipe(withDefault<typeof TlsVersion>("TLSv1.2")),
  maxVersion: Schema.optional(TlsVersion),
  /** Allows a `minVersion` below TLS 1.2. */
  insecureMinVersion: Schema.optional(Flag),
  /** TLS 1.2 cipher list and TLS 1.3 suites, in OpenSSL syntax (Node's `ciphers`). */
  ciphers: Schema.optional(Text),
  /** Key exchange groups, colon-separated (Node's `ecdhCurve`), e.g. `X25519MLKEM768:X25519`. */
  groups: Schema.optional(Text),
  /** ALPN protocols: offered (client) or accepted in order of preference (server). */
  alpn: Schema.optional(Schema.check<List>(alpnCheck)(codecs.list)),
  /**
   * Where key log lines (SSLKEYLOGFILE format) go. Anyone with these lines
   * can decrypt the traffic: for debugging only.
   */
  keylog: Schema.optional(keylog),
  /** Buffer limits and timeouts of each connection (handshake timeout included). */
  connection: TlsConfig.ConnectionConfig.pipe(withDefault<typeof TlsConfig.ConnectionConfig>({}))
})

/**
 * The fields of the client's and of the server's connections that
 * configuration can carry too, read with `codecs`; each set has the common
 * fields.
 */
export const fieldSets = <
  Pem extends AnyCodecs["pem"],
  CaBundle extends AnyCodecs["caBundle"],
  SecretPem extends AnyCodecs["secretPem"],
  Secret extends AnyCodecs["secret"],
  List extends AnyCodecs["list"]
>(
  codecs: Codecs<Pem, CaBundle, SecretPem, Secret, List>
) => {
  const common = commonFields(codecs)
  return {
    client: {
      ...common,
      /**
       * Trust anchors, as PEM text with at least one certificate each (a file
       * path, or text that does not parse, is refused with `TlsConfigError`
       * `InvalidCredentials`). Default: the system store (Node's bundled and
       * system CAs). With `ca` given, only these are trusted unless `systemCa` is true.
       */
      ca: Schema.optional(codecs.caBundle),
      /** With `ca`: trust the system store too. */
      systemCa: Schema.optional(Flag),
      /** The SNI name and the name the certificate must match. Default: the host, unless it is an IP address. */
      servername: Schema.optional(Text),
      /** The client certificate for mutual TLS. */
      credential: Schema.optional(credential(codecs)),
      /** Extra check after verification: the leaf's SPKI SHA-256, base64 (as in HPKP and `curl --pinnedpubkey`). */
      pinnedSpkiSha256: Schema.optional(Schema.check<List>(pinsCheck)(codecs.list)),
      /** Skips certificate and hostname verification. Never in production. */
      insecureSkipVerify: Schema.optional(Flag),
      /** Skips the hostname check only (the chain is still verified). */
      insecureSkipHostnameCheck: Schema.optional(Flag),
      /** Request a stapled OCSP response (delivered as an `OcspResponse` event). */
      requestOcsp: Schema.optional(Flag),
      /** Bound on the TCP connect (DNS included). Default 10 seconds. */
      connectTimeout: TlsConfig.Timeout.pipe(withDefault<typeof TlsConfig.Timeout>(defaultConnectTimeout)),
      /**
       * Resume sessions with tickets from earlier connections of the same client
       * (for `NodeTls.connect`: of earlier calls with equal options). Default true.
       */
      sessionCache: Flag.pipe(withDefault<typeof Flag>(true)),
      /**
       * The path `connect` runs TLS on over its TCP socket (see `TlsOptions.Path`).
       * Default `Runtime.defaultPath()`: `native`, or `duplex` on a runtime that
       * refuses the native path (Deno, which refuses both). An upgrade over a transport always runs
       * the duplex path.
       */
      path: Schema.optional(Path)
    },
    serverConnection: {
      ...common,
      /** One or more certificates (for example ECDSA and RSA); OpenSSL picks one per client. */
      credentials: Schema.Array(credential(codecs)).check(
        Schema.makeFilter((all: ReadonlyArray<unknown>) => all.length > 0 || "at least one certificate and key")
      ),
      /** Whether and how the server asks for a client certificate, and what it trusts. */
      clientAuth: Schema.optional(
        Schema.Struct({
          /** `request`: ask, accept none; `require`: a verified certificate or no connection. */
          mode: Schema.Literals(["request", "require"]).annotate({ expected: '"request" or "require"' }),
          /** Trust anchors for client certificates, PEM. */
          ca: codecs.caBundle
        })
      ),
      /** Session tickets (resumption). Default true. */
      tickets: Flag.pipe(withDefault<typeof Flag>(true)),
      /**
       * TLS 1.2 sessions kept by session ID, for clients that resume without a
       * ticket (curl 7.88, `openssl s_client -no_ticket`, older Java). One cache
       * per configuration (shared by its server and upgrades), least recently
       * used out first; an entry lives as long as a ticket would (2 hours) and
       * until the next `reload`. An entry is the session's encoding (about 130
       * bytes, more with a client certificate) under its 32-byte ID. `0` keeps none. Default
       * 1024. Not made when `minVersion` is TLS 1.3.
       */
      sessionCacheSize: integer(0, Number.MAX_SAFE_INTEGER, "a whole number of sessions, 0 or more").pipe(
        withDefault(serverDefaults.sessionCacheSize)
      ),
      /**
       * An established connection with no plaintext traffic either way for this
       * long fails with `TlsTransportError` `Timeout`, at most a quarter of it
       * later (one shared timer per value looks at every connection four times
       * per timeout). Default 5 minutes. (The handshake is bounded by the
       * connection's `handshakeTimeout` instead.)
       */
      idleTimeout: TlsConfig.Timeout.pipe(withDefault<typeof TlsConfig.Timeout>(serverDefaults.idleTimeout))
    }
  }
}

/** What only code can give a server's connections: functions, and certificates per name. */
const serverCodeFields = {
  /** Certificates per server name (SNI), exact names or `*.example.com`. */
  sni: Schema.optional(Schema.Record(Schema.String, Schema.Array(credential(codeCodecs)))),
  /**
   * Certificates for a name not in `sni`, looked up when a client asks for it
   * and kept until the next reload; `undefined`: the defaults.
   */
  resolveSni: Schema.optional(
    fn<(servername: string) => Effect.Effect<ReadonlyArray<CredentialInput> | undefined>>(
      "servername => Effect of credentials or undefined"
    )
  )
}

/** The listener's fields that configuration can carry too. */
export const listenerFields = {
  /** Where to listen. Default `127.0.0.1`. */
  host: Text.pipe(withDefault<typeof Text>("127.0.0.1")),
  /** Default 0 (any free port; see the server's `address`). */
  port: ListenPort.pipe(withDefault<typeof ListenPort>(0)),
  /** Connections served at once; more are refused at accept. Default 1024. */
  maxConnections: integer(1, Number.MAX_SAFE_INTEGER, "a whole number of connections, 1 or more").pipe(
    withDefault(serverDefaults.maxConnections)
  ),
  /** On shutdown, how long open connections may go on before they are closed. Default 10 seconds. */
  shutdownTimeout: TlsConfig.Timeout.pipe(withDefault<typeof TlsConfig.Timeout>(serverDefaults.shutdownTimeout)),
  /**
   * The path TLS runs on over each accepted socket (see `TlsOptions.Path`). Default
   * `Runtime.defaultPath()`: `native`, or `duplex` where the runtime cannot run
   * the native path (Deno, which refuses both).
   */
  path: Schema.optional(Path),
  /**
   * The level a handler's failure (an error or a defect, not an
   * interruption) is logged at, with the client's address and port as
   * annotations and the cause. Default `Warn`; `None` logs nothing. Either way
   * the failure is counted (`tls_server_handler_failures_total`) and its
   * connection is reset (a TCP RST, no close_notify), so that the client
   * cannot take a crashed handler for a clean end.
   */
  handlerFailureLogLevel: Schema.Literals(["Fatal", "Error", "Warn", "Info", "Debug", "Trace", "None"])
    .annotate({ expected: "a log level: Fatal, Error, Warn, Info, Debug, Trace or None" })
    .pipe(withDefault<Schema.Literals<readonly ["Fatal", "Error", "Warn", "Info", "Debug", "Trace", "None"]>>("Warn"))
}

/** What only code can give a server: the handshake-failure callback. */
const listenerCodeFields = {
  /**
   * Called, in the connection's fiber, with the error of every accepted
   * connection that failed before its handler ran (the handshake failed,
   * timed out, or the client left during it) and the client's TCP address.
   * These are logged at debug level only (a port scanner makes many); this
   * is the place to report or count them. Not called for connections the
   * server's shutdown interrupts.
   */
  onHandshakeFailure: Schema.optional(
    fn<(error: TlsError, peer: Peer) => Effect.Effect<void>>("(error, peer) => Effect<void>")
  )
}

// -----------------------------------------------------------------------------
// the option sets
// -----------------------------------------------------------------------------

/** A certificate chain (leaf first) and its private key, as code gives them. */
export const Credential = credential(codeCodecs)
type CredentialInput = typeof Credential.Encoded

/** The keylog options. */
export const Keylog = keylog

const codeFields = fieldSets(codeCodecs)
const clientCodeFields = codeFields.client
/** The client's options. */
export const ClientOptions = Schema.Struct(clientCodeFields).check(versionsCheck)

/** The options of a server's connections (an acceptor, an upgrade). */
export const ServerConnectionOptions = Schema.Struct({
  ...codeFields.serverConnection,
  ...serverCodeFields
}).check(versionsCheck)

/** The server's options: those of its connections and those of its listener. */
export const ServerOptions = Schema.Struct({
  ...codeFields.serverConnection,
  ...serverCodeFields,
  ...listenerFields,
  ...listenerCodeFields
}).check(versionsCheck)

/** The client options in force. */
export type ClientValues = typeof ClientOptions.Type
/** The server connection options in force. */
export type ServerConnectionValues = typeof ServerConnectionOptions.Type
/** The server options in force. */
export type ServerValues = typeof ServerOptions.Type

/**
 * What a client's connections read per call rather than from its shared
 * context (`NodeTls.connect` shares a context between calls with equal
 * options, and decodes only these on each). Not `connection`: each
 * connection's `TlsConnection.make` decodes that object itself (once per
 * object), so decoding it here too would be a second decode per call.
 */
export const PerConnectionOptions = Schema.Struct({
  connectTimeout: clientCodeFields.connectTimeout,
  path: clientCodeFields.path
})

/** The per-connection options in force. */
export type PerConnectionValues = typeof PerConnectionOptions.Type

/** The options both sides have, in force. */
export type CommonValues = Pick<ClientValues, keyof ClientValues & keyof ServerConnectionValues>

/** Where a client connects: a host and a port. */
export const Target = Schema.Struct({ host: Text, port: Port })

/** A byte bound of a transport. */
const TransportBytes = integer(1, Number.MAX_SAFE_INTEGER, "a whole number of bytes, 1 or more")

/** The default of both transport buffer bounds: 64 KiB, as the connection's. */
export const defaultBufferBytes: number = 64 * 1024

/** The buffer bounds of a transport that runs fibers of its own (`NodeTransport.BufferOptions`). */
export const BufferOptions = Schema.Struct({
  /** Inbound bytes buffered before the transport stops pulling. Default 64 KiB. */
  readBufferBytes: TransportBytes.pipe(withDefault(defaultBufferBytes)),
  /** Outbound bytes buffered before the transport reports backpressure. Default 64 KiB. */
  writeBufferBytes: TransportBytes.pipe(withDefault(defaultBufferBytes))
})

/** A TCP connect's options (`NodeTransport.ConnectOptions`). */
export const TransportConnectOptions = Schema.Struct({
  /** Default `localhost`. */
  host: Text.pipe(withDefault<typeof Text>("localhost")),
  port: Port,
  /** Restricts name resolution to IPv4 or IPv6. */
  family: Schema.optional(Schema.Literals([4, 6]).annotate({ expected: "4 or 6" })),
  /** The local address to connect from. */
  localAddress: Schema.optional(Text),
  /** Bound on establishing the TCP connection. Default 10 seconds. */
  connectTimeout: TlsConfig.Timeout.pipe(withDefault<typeof TlsConfig.Timeout>(defaultConnectTimeout)),
  /** Disables Nagle's algorithm. Default `true`: TLS records are already coalesced. */
  noDelay: Flag.pipe(withDefault<typeof Flag>(true))
})

/** The path in force: the one given, else the runtime's default. */
export const pathOf = (options: { readonly path?: typeof Path.Type | undefined }): typeof Path.Type =>
  options.path ?? Runtime.defaultPath()

/** Each set decoded at the boundary: a failure is a `TlsConfigError` `InvalidOption` naming the option. */
export const decodeClient: (input: unknown) => Effect.Effect<ClientValues, TlsConfigError> = TlsConfig.decode(
  ClientOptions,
  ""
)
/** See {@link decodeClient}. */
export const decodeServerConnection: (input: unknown) => Effect.Effect<ServerConnectionValues, TlsConfigError> =
  TlsConfig.decode(ServerConnectionOptions, "")
/** See {@link decodeClient}. */
export const decodeServer: (input: unknown) => Effect.Effect<ServerValues, TlsConfigError> = TlsConfig.decode(
  ServerOptions,
  ""
)
/** See {@link decodeClient}. */
export const decodePerConnection: (input: unknown) => Effect.Effect<PerConnectionValues, TlsConfigError> =
  TlsConfig.decode(PerConnectionOptions, "")
const decodeTargetFully = TlsConfig.decode(Target, "")
const isTarget = Schema.is(Target)

/**
 * See {@link decodeClient}. A client decodes its target on every connect: a
 * target that already is one (the schema's own check, without the Effect a
 * decode runs) is taken as it is, and only one that is not is decoded, for
 * its error.
 */
export const decodeTarget = (input: unknown): Effect.Effect<typeof Target.Type, TlsConfigError> =>
  isTarget(input) ? Effect.succeed(input) : decodeTargetFully(input)
/** See {@link decodeClient}. */
export const decodeBufferOptions: (input: unknown) => Effect.Effect<typeof BufferOptions.Type, TlsConfigError> =
  TlsConfig.decode(BufferOptions, "")
/** See {@link decodeClient}. */
export const decodeTransportConnect: (
  input: unknown
) => Effect.Effect<typeof TransportConnectOptions.Type, TlsConfigError> = TlsConfig.decode(TransportConnectOptions, "")
