/**
 * effect-tls, both Node paths, each with one client (a shared SecureContext
 * and session cache, `NodeTlsClient.make`) and one server
 * (`NodeTls.serve`, a shared context and ticket keys), so the two paths
 * differ only in who moves the ciphertext:
 *
 * - native (`path: "native"`): a TLSSocket on the TCP handle, Node's C++
 *   does the socket IO, driven by the connection's IO fiber;
 * - duplex (`path: "duplex"`): a TLSSocket over an in-memory duplex, every
 *   ciphertext byte moved between it and the TCP transport by the IO fiber
 *   (the path of the upgrades: STARTTLS and TLS over other transports).
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Credentials from "../Credentials.ts"
import type { Conn, EffectImplementation } from "../Implementation.ts"

/**
 * A connection as the workloads see it. Each operation is made on first use,
 * as the library and the floor make theirs: built here up front, an idle
 * connection's heap (the memory case) would count the adapter's effects as
 * the library's.
 */
class TlsConn implements Conn<Option.Option<Uint8Array>> {
  private readonly connection: TlsConnection.TlsConnection

  constructor(connection: TlsConnection.TlsConnection) {
    this.connection = connection
  }

  get read(): Effect.Effect<Option.Option<Uint8Array>, unknown> {
    return this.connection.reader.read
  }

  chunks(read: Option.Option<Uint8Array>): ReadonlyArray<Uint8Array> | undefined {
    return Option.isSome(read) ? [read.value] : undefined
  }

  get write(): Conn["write"] {
    return this.connection.writer.write
  }

  get end(): Conn["end"] {
    return this.connection.writer.end
  }

  get resumed(): boolean {
    return this.connection.session.resumed
  }
}

const toConn = (connection: TlsConnection.TlsConnection): Conn => new TlsConn(connection)

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

const make = (id: "native" | "duplex" | "simple", label: string, path: TlsOptions.Path): EffectImplementation => ({
  _tag: "Effect",
  id,
  label,
  resumption: true,
  serve: (credentials, handler) =>
    Effect.map(
      NodeTls.serve({ ...serverOptions(credentials), path, host: Credentials.host, port: 0 }, (connection) =>
        handler(toConn(connection))
      ),
      (server) => server.address.port
    ),
  client: (credentials, { resume }) =>
    Effect.map(NodeTlsClient.make({ ...clientOptions(credentials), path, sessionCache: resume }), (client) => ({
      connect: (port) => Effect.map(client.connect({ host: Credentials.host, port }), toConn)
    }))
})

/**
 * The native path through the simplest API, `NodeTls.connect` (one call per
 * connection, the context shared by equal options) and `NodeTls.serve`:
 * measured in the handshake cases, the only ones where it differs from
 * {@link native}.
 *
 * @since 0.1.0
 * @category implementations
 */
export const simple: EffectImplementation = {
  ...make("simple", "effect-tls NodeTls.connect", "native"),
  measuredIn: ["handshakes"],
  client: (credentials, { resume }) =>
    Effect.succeed({
      connect: (port) =>
        Effect.map(
          NodeTls.connect({ ...clientOptions(credentials), host: Credentials.host, port, sessionCache: resume }),
          toConn
        )
    })
}

/**
 * The native path: `NodeTlsClient.make` and `NodeTls.serve`.
 *
 * @since 0.1.0
 * @category implementations
 */
export const native: EffectImplementation = make("native", "effect-tls native", "native")

/**
 * The duplex path over TCP: the same client and server with `path: "duplex"`.
 *
 * @since 0.1.0
 * @category implementations
 */
export const duplex: EffectImplementation = make("duplex", "effect-tls duplex", "duplex")
