/**
 * effect-tls, both Node paths, each with one client (a shared SecureContext
 * and session cache, `NodeTlsClient.make`) and one server
 * (`NodeTlsServer.serve`, a shared context and ticket keys), so the two paths
 * differ only in who moves the ciphertext:
 *
 * - native (`engine: "native"`): a TLSSocket on the TCP handle, Node's C++
 *   does the socket IO, driven by the connection's IO fiber;
 * - engine (`engine: "duplex"`): a TLSSocket over an in-memory duplex used as
 *   a sans-IO engine, every ciphertext byte moved between it and the TCP
 *   transport by the IO fiber (the path of `upgrade`, STARTTLS and TLS over
 *   other transports).
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Credentials from "../Credentials.ts"
import type { Conn, EffectImplementation } from "../Implementation.ts"

const toConn = (connection: TlsConnection.TlsConnection): Conn => ({
  read: Effect.map(connection.reader.read, (chunk) => (Option.isSome(chunk) ? [chunk.value] : undefined)),
  write: connection.writer.write,
  end: connection.writer.end,
  resumed: connection.session.resumed
})

const common = {
  minVersion: "TLSv1.3",
  ciphers: Credentials.cipherSuite
} as const

const serverOptions = (credentials: Credentials.Credentials) => ({
  ...common,
  credentials: [{ cert: credentials.chain, key: Redacted.make(credentials.key) }],
  // The memory case holds thousands of connections at once.
  maxConnections: 100_000
})

const clientOptions = (credentials: Credentials.Credentials): TlsOptions.ClientOptions => ({
  ...common,
  ca: credentials.ca,
  servername: credentials.servername
})

const make = (id: "native" | "engine", label: string, engine: TlsOptions.Engine): EffectImplementation => ({
  _tag: "Effect",
  id,
  label,
  resumption: true,
  serve: (credentials, handler) =>
    Effect.map(
      NodeTlsServer.serve({ ...serverOptions(credentials), engine, host: Credentials.host, port: 0 }, (connection) =>
        handler(toConn(connection))
      ),
      (server) => server.address.port
    ),
  client: (credentials, { resume }) =>
    Effect.map(NodeTlsClient.make({ ...clientOptions(credentials), engine, sessionCache: resume }), (client) => ({
      connect: (port) => Effect.map(client.connect({ host: Credentials.host, port }), toConn)
    }))
})

/**
 * The native path: `NodeTlsClient.make` and `NodeTlsServer.serve`.
 *
 * @since 0.1.0
 * @category implementations
 */
export const native: EffectImplementation = make("native", "effect-tls native", "native")

/**
 * The engine path over TCP: the same client and server with `engine: "duplex"`.
 *
 * @since 0.1.0
 * @category implementations
 */
export const engine: EffectImplementation = make("engine", "effect-tls engine", "duplex")
