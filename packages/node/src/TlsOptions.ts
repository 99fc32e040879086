/**
 * The options of the Node TLS client and server.
 *
 * The defaults are the safe ones: the system trust store, hostname
 * verification, TLS 1.2 at least, renegotiation refused. Anything weaker is
 * an explicitly named option (`insecureSkipVerify`, `insecureMinVersion`).
 * Private keys and passphrases are `Redacted`, so they never reach a log.
 *
 * @since 0.1.0
 */
import type { ConnectionOptions } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import type * as Redacted from "effect/Redacted"
import type { Peer } from "./NodeTlsServer.ts"

/**
 * A TLS protocol version, as Node names it.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsVersion = "TLSv1.3" | "TLSv1.2" | "TLSv1.1" | "TLSv1"

/**
 * A certificate chain (leaf first) and its private key, as PEM text (not
 * file paths: a path is refused with `TlsConfigError` `InvalidCredentials`;
 * `NodeTlsConfig` reads files). Both are parsed when the options are checked,
 * and the key must be the leaf's; an encrypted key needs its `passphrase`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credential {
  readonly cert: string
  readonly key: Redacted.Redacted<string>
  /** The passphrase of an encrypted key. */
  readonly passphrase?: Redacted.Redacted<string> | undefined
}

/**
 * Where key log lines (SSLKEYLOGFILE format) go: appended to a file, and/or
 * published as `Keylog` events on the connection. Anyone with these lines can
 * decrypt the traffic: for debugging only.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeylogOptions {
  readonly file?: string | undefined
  readonly events?: boolean | undefined
}

/**
 * What both sides configure.
 *
 * Every option of a client or a server is checked when it is made, before
 * any socket is opened: a bad value (a port out of range, a timeout that is
 * not a positive duration, a count below one, a certificate that does not
 * parse) fails with `TlsConfigError`, whose reason's `path` names the option
 * (`connection.handshakeTimeout`, `credentials[0].key`). The error guide's
 * options table lists what each allows.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Default `TLSv1.2`. Lower versions need `insecureMinVersion`. */
  readonly minVersion?: TlsVersion | undefined
  readonly maxVersion?: TlsVersion | undefined
  /** Allows a `minVersion` below TLS 1.2. */
  readonly insecureMinVersion?: boolean | undefined
  /** TLS 1.2 cipher list and TLS 1.3 suites, in OpenSSL syntax (Node's `ciphers`). */
  readonly ciphers?: string | undefined
  /** Key exchange groups, colon-separated (Node's `ecdhCurve`), e.g. `X25519MLKEM768:X25519`. */
  readonly groups?: string | undefined
  /** ALPN protocols: offered (client) or accepted in order of preference (server). */
  readonly alpn?: ReadonlyArray<string> | undefined
  readonly keylog?: KeylogOptions | undefined
  /** Buffer limits and timeouts of each connection (handshake timeout included). */
  readonly connection?: ConnectionOptions | undefined
}

/**
 * The client's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends CommonOptions {
  /**
   * Trust anchors, as PEM text with at least one certificate each (a file
   * path, or text that does not parse, is refused with `TlsConfigError`
   * `InvalidCredentials`). Default: the system store (Node's bundled and
   * system CAs). With `ca` given, only these are trusted unless `systemCa` is true.
   */
  readonly ca?: string | ReadonlyArray<string> | undefined
  readonly systemCa?: boolean | undefined
  /** The SNI name and the name the certificate must match. Default: the host, unless it is an IP address. */
  readonly servername?: string | undefined
  /** The client certificate for mutual TLS. */
  readonly credential?: Credential | undefined
  /** Extra check after verification: the leaf's SPKI SHA-256, base64 (as in HPKP and `curl --pinnedpubkey`). */
  readonly pinnedSpkiSha256?: ReadonlyArray<string> | undefined
  /** Skips certificate and hostname verification. Never in production. */
  readonly insecureSkipVerify?: boolean | undefined
  /** Skips the hostname check only (the chain is still verified). */
  readonly insecureSkipHostnameCheck?: boolean | undefined
  /** Request a stapled OCSP response (delivered as an `OcspResponse` event). */
  readonly requestOcsp?: boolean | undefined
  /** Bound on the TCP connect (DNS included). Default 10 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /**
   * Resume sessions with tickets from earlier connections of the same client
   * (for `NodeTls.connect`: of earlier calls with equal options). Default true.
   */
  readonly sessionCache?: boolean | undefined
  /**
   * The path `connect` runs TLS on over its TCP socket (see {@link Path}).
   * Default `Runtime.defaultPath()`: `native`, or `duplex` on a runtime that
   * refuses the native path (Deno, which refuses both). An upgrade over a transport always runs
   * the duplex path.
   */
  readonly path?: Path | undefined
}

/**
 * Which of the two Node paths runs TLS over a TCP socket: `native`, Node's
 * TLSSocket on the TCP socket, whose native code does the socket IO (the
 * fastest; a FIN without close_notify looks like a clean end); `duplex`,
 * Node's TLSSocket over an in-memory duplex, so the connection's IO fiber
 * moves every ciphertext byte (a FIN without close_notify is truncation).
 * A runtime that cannot run a path safely refuses it (`Runtime`).
 *
 * @since 0.1.0
 * @category models
 */
export type Path = "native" | "duplex"

/**
 * Whether and how the server asks for a client certificate, and what it trusts.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientAuthOptions {
  /** `request`: ask, accept none; `require`: a verified certificate or no connection. */
  readonly mode: "request" | "require"
  /** Trust anchors for client certificates, PEM. */
  readonly ca: string | ReadonlyArray<string>
}

/**
 * What every server-side connection is made with: credentials, client
 * authentication, tickets, ALPN, the idle bound. The options of a server
 * without a listener (TLS over a transport you bring, STARTTLS).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConnectionOptions extends CommonOptions {
  /** One or more certificates (for example ECDSA and RSA); OpenSSL picks one per client. */
  readonly credentials: ReadonlyArray<Credential>
  /** Certificates per server name (SNI), exact names or `*.example.com`. */
  readonly sni?: Readonly<Record<string, ReadonlyArray<Credential>>> | undefined
  /**
   * Certificates for a name not in `sni`, looked up when a client asks for it
   * and kept until the next reload; `undefined`: the defaults.
   */
  readonly resolveSni?: ((servername: string) => Effect.Effect<ReadonlyArray<Credential> | undefined>) | undefined
  readonly clientAuth?: ClientAuthOptions | undefined
  /** Session tickets (resumption). Default true. */
  readonly tickets?: boolean | undefined
  /**
   * TLS 1.2 sessions kept by session ID, for clients that resume without a
   * ticket (curl 7.88, `openssl s_client -no_ticket`, older Java). One cache
   * per configuration (shared by its server and upgrades), least recently
   * used out first; an entry lives as long as a ticket would (2 hours) and
   * until the next `reload`. An entry is the session's encoding (about 130
   * bytes, more with a client certificate) under its 32-byte ID. `0` keeps none. Default
   * 1024. Not made when `minVersion` is TLS 1.3.
   */
  readonly sessionCacheSize?: number | undefined
  /**
   * An established connection with no traffic for this long fails with
   * `TlsTransportError` `Timeout`. Default 5 minutes. (The handshake is bounded
   * by the connection's `handshakeTimeout` instead.)
   */
  readonly idleTimeout?: Duration.Input | undefined
}

/**
 * The server's options: those of its connections and those of its TCP listener.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends ServerConnectionOptions {
  /** Where to listen. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Default 0 (any free port; see the server's `address`). */
  readonly port?: number | undefined
  /** Connections served at once; more are refused at accept. Default 1024. */
  readonly maxConnections?: number | undefined
  /** On shutdown, how long open connections may go on before they are closed. Default 10 seconds. */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * The path TLS runs on over each accepted socket (see {@link Path}). Default
   * `Runtime.defaultPath()`: `native`, or `duplex` where the runtime cannot run
   * the native path (Deno, which refuses both).
   */
  readonly path?: Path | undefined
  /**
   * The level a handler's failure (an error or a defect, not an
   * interruption) is logged at, with the client's address and port as
   * annotations and the cause. Default `Warn`; `None` logs nothing. Either way
   * the failure is counted (`tls_server_handler_failures_total`) and its
   * connection is reset (a TCP RST, no close_notify), so that the client
   * cannot take a crashed handler for a clean end.
   */
  readonly handlerFailureLogLevel?: LogLevel.Severity | "None" | undefined
  /**
   * Called, in the connection's fiber, with the error of every accepted
   * connection that failed before its handler ran (the handshake failed,
   * timed out, or the client left during it) and the client's TCP address.
   * These are logged at debug level only (a port scanner makes many); this
   * is the place to report or count them. Not called for connections the
   * server's shutdown interrupts.
   */
  readonly onHandshakeFailure?: ((error: TlsError, peer: Peer) => Effect.Effect<void>) | undefined
}
