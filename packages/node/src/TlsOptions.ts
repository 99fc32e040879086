/**
 * The options of the Node TLS client and server, as Schemas: each option
 * set's type is its schema's encoded side (what code passes), its defaults
 * are what decoding fills in, and its check is the decoding, done once when
 * a client, a server or an upgrade is made, before any socket is opened.
 * `NodeTlsConfig` reads the same fields from configuration.
 *
 * The defaults are the safe ones: the system trust store, hostname
 * verification, TLS 1.2 at least, renegotiation refused. Anything weaker is
 * an explicitly named option (`insecureSkipVerify`, `insecureMinVersion`).
 * Private keys and passphrases are `Redacted`, so they never reach a log.
 *
 * A bad value (a port out of range, a timeout that is not a positive
 * duration, a count below one, a value of the wrong type) fails with
 * `TlsConfigError` `InvalidOption`, whose `path` names the option
 * (`connection.handshakeTimeout`, `alpn[1]`), with the value and what is
 * allowed; a certificate or key that does not parse fails with
 * `InvalidCredentials` (`credentials[0].key`). The error guide's options
 * table lists what each allows.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/options.ts"

/**
 * A TLS protocol version, as Node names it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TlsVersion = internal.TlsVersion

/**
 * A TLS protocol version, as Node names it.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsVersion = typeof TlsVersion.Type

/**
 * Which of the two Node paths runs TLS over a TCP socket: `native`, Node's
 * TLSSocket on the TCP socket, whose native code does the socket IO (the
 * fastest; a FIN without close_notify looks like a clean end); `duplex`,
 * Node's TLSSocket over an in-memory duplex, so the connection's IO fiber
 * moves every ciphertext byte (a FIN without close_notify is truncation).
 * A runtime that cannot run a path safely refuses it (`Runtime`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Path = internal.Path

/**
 * See {@link Path}.
 *
 * @since 0.1.0
 * @category models
 */
export type Path = typeof Path.Type

/**
 * A certificate chain (leaf first) and its private key, as PEM text (not
 * file paths: a path is refused with `TlsConfigError` `InvalidCredentials`;
 * `NodeTlsConfig` reads files). Both are parsed when the options are checked,
 * and the key must be the leaf's; an encrypted key needs its `passphrase`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Credential = internal.Credential

/**
 * See {@link Credential}.
 *
 * @since 0.1.0
 * @category models
 */
export type Credential = typeof Credential.Encoded

/**
 * Where key log lines (SSLKEYLOGFILE format) go: appended to a file, and/or
 * published as `Keylog` events on the connection. Anyone with these lines can
 * decrypt the traffic: for debugging only.
 *
 * @since 0.1.0
 * @category models
 */
export type KeylogOptions = typeof internal.Keylog.Encoded

/**
 * The client's options: trust, the client certificate, verification, the
 * connect timeout, session resumption, the path, and those both sides have
 * (versions, ciphers, groups, ALPN, keylog, the `connection` options).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ClientOptions = internal.ClientOptions

/**
 * See {@link ClientOptions} (schema). Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientOptions = typeof ClientOptions.Encoded

/**
 * The options both sides have.
 *
 * @since 0.1.0
 * @category models
 */
export type CommonOptions = Pick<ClientOptions, keyof ClientOptions & keyof ServerConnectionOptions>

/**
 * What every server-side connection is made with: credentials, client
 * authentication, tickets, the session-ID cache, ALPN, the idle bound, and
 * certificates per server name (`sni`, `resolveSni`). The options of a
 * server without a listener (TLS over a transport you bring, STARTTLS).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerConnectionOptions = internal.ServerConnectionOptions

/**
 * See {@link ServerConnectionOptions} (schema). `credentials` is required.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerConnectionOptions = typeof ServerConnectionOptions.Encoded

/**
 * Whether and how the server asks for a client certificate, and what it trusts.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthOptions = NonNullable<ServerConnectionOptions["clientAuth"]>

/**
 * The server's options: those of its connections and those of its TCP
 * listener (host, port, the connection limit, the shutdown bound, the path,
 * how handler failures are logged, the handshake-failure callback).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerOptions = internal.ServerOptions

/**
 * See {@link ServerOptions} (schema). `credentials` is required.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerOptions = typeof ServerOptions.Encoded
