/**
 * The command line's settings turned into the library's options. Nothing
 * here speaks TLS: the library does, on the native path (`NodeTls.connect`,
 * `NodeTls.serve`) or the duplex path (`NodeTransport` and
 * `NodeTls.upgradeClient`, after a `Plaintext` prologue for STARTTLS).
 */
import { isIP } from "node:net"
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import * as Plaintext from "@effect-tls/node/Plaintext"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { ConnectSettings, ServeSettings } from "./settings.ts"
import * as Smtp from "./smtp.ts"

/**
 * The server name to send (SNI) and to verify: `--servername`, else the host
 * when it is a name (SNI cannot carry an IP address; an IP host is verified
 * against the certificate's IP addresses).
 */
const servernameOf = (settings: ConnectSettings): string | undefined =>
  settings.servername ?? (isIP(settings.target.host) === 0 ? settings.target.host : undefined)

const version = (v: "1.2" | "1.3"): TlsOptions.TlsVersion => (v === "1.3" ? "TLSv1.3" : "TLSv1.2")

/** The client options of the settings, shared by both paths. */
export const clientOptions = (settings: ConnectSettings): TlsOptions.ClientOptions => {
  const servername = servernameOf(settings)
  return {
    ...(servername === undefined ? {} : { servername }),
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined || settings.key === undefined
      ? {}
      : { credential: { cert: settings.cert, key: Redacted.make(settings.key) } }),
    ...(settings.alpn === undefined ? {} : { alpn: settings.alpn }),
    ...(settings.minVersion === undefined ? {} : { minVersion: version(settings.minVersion) }),
    ...(settings.keylog === undefined ? {} : { keylog: { file: settings.keylog } }),
    ...(settings.insecure ? { insecureSkipVerify: true } : {}),
    ...(settings.connectTimeout === undefined ? {} : { connectTimeout: settings.connectTimeout }),
    ...(settings.handshakeTimeout === undefined ? {} : { connection: { handshakeTimeout: settings.handshakeTimeout } })
  }
}

/**
 * Opens the client connection the settings describe: the native path, or
 * the duplex path over a TCP transport (always for STARTTLS, whose prologue
 * is plaintext on the same socket).
 */
export const connect = Effect.fn("Cli.connect")(function* (settings: ConnectSettings) {
  const options = clientOptions(settings)
  const { host, port } = settings.target
  if (settings.path === "native" && settings.starttls === undefined) {
    return yield* NodeTls.connect({ ...options, host, port })
  }
  const transport = yield* NodeTransport.connect({
    host,
    port,
    ...(settings.connectTimeout === undefined ? {} : { connectTimeout: settings.connectTimeout })
  })
  const upgradeOptions: NodeTls.UpgradeClientOptions = { ...options, host }
  if (settings.starttls === "smtp") {
    const plain = yield* Plaintext.make(transport)
    yield* Smtp.prologue(plain, "localhost")
    return yield* NodeTls.upgradeClient(plain, upgradeOptions)
  }
  const connection: TlsConnection = yield* NodeTls.upgradeClient(transport, upgradeOptions)
  return connection
})

/** The server options of the settings. */
export const serverOptions = (
  settings: ServeSettings,
  credentials: ReadonlyArray<{ readonly cert: string; readonly key: string }>
): TlsOptions.ServerOptions => ({
  host: settings.host,
  port: settings.port,
  credentials: credentials.map(({ cert, key }) => ({ cert, key: Redacted.make(key) })),
  ...(settings.ca === undefined || settings.clientCert === "none"
    ? {}
    : { clientAuth: { mode: settings.clientCert === "require" ? "require" : "request", ca: settings.ca } }),
  ...(settings.alpn === undefined ? {} : { alpn: settings.alpn }),
  ...(settings.maxConnections === undefined ? {} : { maxConnections: settings.maxConnections }),
  ...(settings.idleTimeout === undefined ? {} : { idleTimeout: settings.idleTimeout }),
  ...(settings.shutdownTimeout === undefined ? {} : { shutdownTimeout: settings.shutdownTimeout }),
  ...(settings.handshakeTimeout === undefined ? {} : { connection: { handshakeTimeout: settings.handshakeTimeout } })
})

/**
 * Serves connections as the settings describe, until the scope closes. The
 * command reports failures itself (with -v), so the library logs none of
 * its handler's; `onHandshakeFailure` sees the connections that never
 * reached it.
 */
export const serve = <E, R>(
  settings: ServeSettings,
  credentials: ReadonlyArray<{ readonly cert: string; readonly key: string }>,
  handler: (connection: TlsConnection, peer: NodeTlsServer.Peer) => Effect.Effect<void, E, R>,
  onHandshakeFailure?: (error: TlsError, peer: NodeTlsServer.Peer) => Effect.Effect<void>
): Effect.Effect<NodeTlsServer.Server, TlsError, R | Scope.Scope> =>
  NodeTls.serve(
    {
      ...serverOptions(settings, credentials),
      path: settings.path,
      handlerFailureLogLevel: "None",
      ...(onHandshakeFailure === undefined ? {} : { onHandshakeFailure })
    },
    handler
  )
