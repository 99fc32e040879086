/**
 * effect-tls, both Node paths:
 *
 * - native: `NodeTlsClient.make` (one shared SecureContext, session cache)
 *   and `NodeTlsServer.serve`, a TLSSocket on the TCP handle driven by the
 *   connection's IO fiber;
 * - engine: `Starttls.client` / `Starttls.server` over a TCP transport from
 *   `NodeTransport` (a TLSSocket over an in-memory duplex, every ciphertext
 *   byte moved by the IO fiber). These build a SecureContext per call and
 *   keep no session cache, so the engine path does not resume.
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import * as Starttls from "@effect-tls/node/Starttls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
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

/**
 * The native path.
 *
 * @since 0.1.0
 * @category implementations
 */
export const native: EffectImplementation = {
  _tag: "Effect",
  id: "native",
  label: "effect-tls native",
  resumption: true,
  serve: (credentials, handler) =>
    Effect.map(
      NodeTlsServer.serve({ ...serverOptions(credentials), host: Credentials.host, port: 0 }, (connection) =>
        handler(toConn(connection))
      ),
      (server) => server.address.port
    ),
  client: (credentials, { resume }) =>
    Effect.map(NodeTlsClient.make({ ...clientOptions(credentials), sessionCache: resume }), (client) => ({
      connect: (port) => Effect.map(client.connect({ host: Credentials.host, port }), toConn)
    }))
}

/**
 * The engine path over TCP.
 *
 * @since 0.1.0
 * @category implementations
 */
export const engine: EffectImplementation = {
  _tag: "Effect",
  id: "engine",
  label: "effect-tls engine",
  resumption: false,
  serve: (credentials, handler) =>
    Effect.gen(function* () {
      const options = serverOptions(credentials)
      const set = yield* FiberSet.make<void, never>()
      const run = yield* FiberSet.runtime(set)<never>()
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true })
      server.on("connection", (socket) => {
        socket.on("error", () => {})
        run(
          Effect.scoped(
            NodeTransport.fromSocket(socket).pipe(
              Effect.flatMap((transport) => Starttls.server(transport, options)),
              Effect.flatMap((connection) => handler(toConn(connection)))
            )
          ).pipe(Effect.ignore)
        )
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => {
          server.listen(0, Credentials.host, () => resume(Effect.void))
        }),
        () =>
          Effect.callback<void>((resume) => {
            server.close(() => resume(Effect.void))
          })
      )
      return (server.address() as net.AddressInfo).port
    }),
  client: (credentials) =>
    Effect.succeed({
      connect: (port) =>
        NodeTransport.connect({ host: Credentials.host, port }).pipe(
          Effect.flatMap((transport) => Starttls.client(transport, clientOptions(credentials))),
          Effect.map(toConn)
        )
    })
}
