/**
 * The server: one fiber per connection, limits, reload without restart,
 * graceful shutdown with the scope.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

// #region serve
/** A greeting server: each connection runs `greet` in its own fiber. */
const greet = (tls: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    const name = yield* tls.reader.readUntil("\n", { maxBytes: 256 })
    yield* tls.writer.write(`hello, ${new TextDecoder().decode(name)}\n`)
    yield* tls.writer.end
  })

export const startServer = (credentials: ReadonlyArray<TlsOptions.Credential>) =>
  NodeTls.serve(
    {
      credentials,
      host: "127.0.0.1",
      port: 0, // any free port: see `server.address`
      maxConnections: 1000, // more are refused at accept
      idleTimeout: "1 minute", // a silent connection is closed
      shutdownTimeout: "5 seconds", // on shutdown, open connections get this long to finish
      connection: { handshakeTimeout: "5 seconds" }
    },
    greet
  )
// #endregion serve

// #region join
/** Serves until the program is interrupted, or until the listener fails (then with its error). */
export const runServer = (credentials: ReadonlyArray<TlsOptions.Credential>) =>
  Effect.scoped(Effect.flatMap(startServer(credentials), (server) => server.join))
// #endregion join

/** Connects, says `name`, and returns the greeting and the server certificate's subject. */
const visit = (port: number, ca: string, name: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tls = yield* NodeTls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" })
      yield* tls.writer.write(`${name}\n`)
      const greeting = yield* Stream.runCollect(Stream.decodeText(tls.reader.stream))
      return { greeting: greeting.join(""), subject: tls.session.peerCertificates[0]?.subject ?? "" }
    })
  )

export const program = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const before = yield* pki.issueServer({ commonName: "before reload" })
    const after = yield* pki.issueServer({ commonName: "after reload" })
    // #region reload
    const server = yield* startServer([{ cert: before.chain, key: before.redactedKey }])
    const first = yield* visit(server.address.port, pki.root, "first")
    // New handshakes use the new certificate; open connections go on.
    yield* server.reload([{ cert: after.chain, key: after.redactedKey }])
    const second = yield* visit(server.address.port, pki.root, "second")
    // #endregion reload
    return { first, second, open: yield* server.connections }
  })
)
