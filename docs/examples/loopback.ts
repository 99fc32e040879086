/**
 * A connected pair over 127.0.0.1: a server from the test kit's certificates
 * and a client that trusts them, both handshakes done. The guide's examples
 * run on it; your own protocol tests can too.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

// #region pair
/**
 * Both ends of one TLS connection over loopback TCP. The server's handler
 * holds its end until the scope closes; closing the scope closes both
 * gracefully (close_notify), then stops the server.
 */
export const loopbackPair = (
  options: {
    readonly client?: Partial<NodeTls.ConnectOptions>
    readonly server?: Partial<TlsOptions.ServerOptions>
  } = {}
) =>
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const cert = yield* pki.issueServer()
    const accepted = yield* Deferred.make<TlsConnection.TlsConnection>()
    const release = yield* Deferred.make<void>()
    const server = yield* NodeTls.serve(
      { credentials: [{ cert: cert.chain, key: cert.redactedKey }], shutdownTimeout: "1 second", ...options.server },
      (connection) => Effect.andThen(Deferred.succeed(accepted, connection), Deferred.await(release))
    )
    const client = yield* NodeTls.connect({
      host: "127.0.0.1",
      port: server.address.port,
      ca: pki.root,
      servername: "localhost",
      ...options.client
    })
    // Finalizers run last-added first: the server's handler is released,
    // then the client closes, then the listener.
    yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
    return { client, server: yield* Deferred.await(accepted), pki }
  })
// #endregion pair
