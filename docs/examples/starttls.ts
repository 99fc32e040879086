/**
 * STARTTLS and the injection defence: plaintext that a client pipelines after
 * its STARTTLS command is never fed to TLS nor dropped; the upgrade fails.
 */

import { isTlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as Plaintext from "@effect-tls/node/Plaintext"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, MemoryTransport } from "@effect-tls/test"
import * as Effect from "effect/Effect"

// #region server
/** The server side of a line protocol with STARTTLS, after its greeting. */
export const acceptStarttls = (plain: Plaintext.Plaintext, credentials: ReadonlyArray<TlsOptions.Credential>) =>
  Effect.gen(function* () {
    yield* plain.write("220 ready\r\n")
    const command = yield* plain.readLine
    if (command !== "STARTTLS") return yield* Effect.fail(new Error(`expected STARTTLS, got ${command}`))
    yield* plain.write("220 go ahead\r\n")
    // Fails with TlsHandshakeError "PlaintextInjection" if the client sent
    // anything after "STARTTLS\r\n" before its ClientHello.
    return yield* NodeTls.upgradeServer(plain, { credentials })
  })
// #endregion server

export const program = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const cert = yield* pki.issueServer()
    const credentials = [{ cert: cert.chain, key: cert.redactedKey }]

    // An honest client over an in-memory pair of transports.
    const honest = MemoryTransport.makePair()
    const [, connection] = yield* Effect.all(
      [
        Effect.flatMap(Plaintext.make(honest.b), (plain) => acceptStarttls(plain, credentials)),
        Effect.gen(function* () {
          const plain = yield* Plaintext.make(honest.a)
          yield* plain.readLine
          yield* plain.write("STARTTLS\r\n")
          yield* plain.readLine
          return yield* NodeTls.upgradeClient(plain, { ca: pki.root, servername: "localhost" })
        })
      ],
      { concurrency: 2 }
    )

    // An attacker's bytes pipelined behind the command.
    const injected = MemoryTransport.makePair()
    const attacker = yield* Plaintext.make(injected.a)
    yield* attacker.write("STARTTLS\r\nMAIL FROM:<mallory@example.com>\r\n")
    const refused = yield* Effect.flip(
      Effect.flatMap(Plaintext.make(injected.b), (plain) => acceptStarttls(plain, credentials))
    )

    return {
      protocol: connection.session.protocol,
      refused: isTlsError(refused) ? refused.reason._tag : refused.message
    }
  })
)
