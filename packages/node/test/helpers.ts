/**
 * Test helpers for the native path: a TLS server on 127.0.0.1 whose
 * connections are handed to the test, a credential from an issued
 * certificate, and readers. Relays, listeners and ports are the test kit's
 * (`Relay`, `Loopback`).
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import type { CertificateAuthority } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

/** The library's credential of an issued certificate: its chain and its key. */
export const credential = (issued: CertificateAuthority.Issued): TlsOptions.Credential => ({
  cert: issued.chain,
  key: issued.redactedKey
})

/** Reads until the end, at most `limit` chunks. */
export const readAll = (connection: TlsConnection.TlsConnection, limit = 1_000_000) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) break
      parts.push(chunk.value)
    }
    return Buffer.concat(parts)
  })

/**
 * A server whose connections are offered to a queue; each connection stays
 * open until the test completes its `release` deferred or the scope closes.
 * `accept` takes the next one, waiting at most 10 seconds.
 */
export const testServer = (options: TlsOptions.ServerOptions) =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
    const release = yield* Deferred.make<void>()
    // Handlers here wait for the test; a short shutdown keeps the scope's close quick.
    const server = yield* NodeTlsServer.serve({ shutdownTimeout: "100 millis", ...options }, (connection) =>
      Effect.andThen(Queue.offer(accepted, connection), Deferred.await(release))
    )
    return {
      server,
      accepted,
      accept: Queue.take(accepted).pipe(Effect.timeout("10 seconds")),
      release,
      port: server.address.port
    }
  })

/** The failure of an effect that must fail. */
export const failure = <A>(effect: Effect.Effect<A, TlsError, Scope.Scope>) => Effect.scoped(Effect.flip(effect))
