/**
 * The command line's settings turned into the library's options. Nothing
 * here speaks TLS: the native path (`NodeTls`) and the engine path
 * (`NodeTransport` + `Starttls`) do.
 */
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import * as Starttls from "@effect-tls/node/Starttls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Connect from "./connect.ts"
import { servernameOf } from "./connect.ts"
import type * as Serve from "./serve.ts"
import * as Smtp from "./smtp.ts"

const version = (v: "1.2" | "1.3"): TlsOptions.TlsVersion => (v === "1.3" ? "TLSv1.3" : "TLSv1.2")

/** The client options of the settings, shared by both engines. */
export const clientOptions = (settings: Connect.Settings): TlsOptions.ClientOptions => {
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
 * the engine path over a TCP transport (always for STARTTLS, whose prologue
 * is plaintext on the same socket).
 */
export const connect = Effect.fn("Cli.connect")(function* (settings: Connect.Settings) {
  const options = clientOptions(settings)
  const { host, port } = settings.target
  if (settings.engine === "native" && settings.starttls === undefined) {
    return yield* NodeTls.connect({ ...options, host, port })
  }
  const transport = yield* NodeTransport.connect({
    host,
    port,
    ...(settings.connectTimeout === undefined ? {} : { connectTimeout: settings.connectTimeout })
  })
  const duplexOptions: Starttls.ClientOptions = { ...options, host }
  if (settings.starttls === "smtp") {
    const plain = Starttls.plaintext(transport)
    yield* Smtp.prologue(plain, "localhost")
    return yield* Starttls.client(plain, duplexOptions)
  }
  const connection: TlsConnection = yield* Starttls.client(transport, duplexOptions)
  return connection
})

/** The server options of the settings. */
export const serverOptions = (
  settings: Serve.Settings,
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

/** Serves connections as the settings describe, until the scope closes; returns the bound address. */
export const serve = <E, R>(
  settings: Serve.Settings,
  credentials: ReadonlyArray<{ readonly cert: string; readonly key: string }>,
  handler: (connection: TlsConnection, peer: NodeTlsServer.Peer) => Effect.Effect<void, E, R>
) =>
  Effect.map(
    NodeTls.serve({ ...serverOptions(settings, credentials), engine: settings.engine }, handler),
    (server) => server.address
  )
