/**
 * Channel binding with `tls-exporter`: a SCRAM-SHA-256-PLUS login over a TLS
 * connection, one message per line. A relayed login (a proof bound to another
 * TLS session, as a man in the middle would hold) is refused.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as TlsSession from "@effect-tls/core/TlsSession"
import * as Effect from "effect/Effect"
import { loopbackPair } from "./loopback.ts"
import * as Scram from "./scram.ts"

const decoder = new TextDecoder()
const receive = (tls: TlsConnection.TlsConnection) => Effect.map(tls.reader.readUntil("\n"), (l) => decoder.decode(l))
const send = (tls: TlsConnection.TlsConnection, message: string) => tls.writer.write(`${message}\n`)

// #region login
/** The client's side: `binding` is normally this connection's own exporter value. */
export const login = (tls: TlsConnection.TlsConnection, user: string, password: string, binding?: Uint8Array) =>
  Effect.gen(function* () {
    const cb = binding ?? (yield* TlsSession.tlsExporterChannelBinding(tls.session))
    const first = Scram.clientFirst(user)
    yield* send(tls, first.message)
    const final = yield* Scram.clientFinal({ password, first, serverFirst: yield* receive(tls), binding: cb })
    yield* send(tls, final.message)
    return (yield* receive(tls)) === final.serverFinal
  })

/** The server's side: the binding is computed from its own end of the session. */
export const authenticate = (tls: TlsConnection.TlsConnection, credential: Scram.StoredCredential) =>
  Effect.gen(function* () {
    const binding = yield* TlsSession.tlsExporterChannelBinding(tls.session)
    const first = yield* Scram.serverFirst(yield* receive(tls), credential)
    yield* send(tls, first.message)
    const final = yield* Scram.serverFinal({ first, clientFinal: yield* receive(tls), credential, binding })
    yield* send(tls, final)
  })
// #endregion login

export const program = Effect.scoped(
  Effect.gen(function* () {
    const credential = Scram.storeCredential("correct horse")
    const honest = yield* loopbackPair()
    const [verified] = yield* Effect.all(
      [login(honest.client, "alice", "correct horse"), authenticate(honest.server, credential)],
      { concurrency: 2 }
    )
    // A relay: the client's proof is bound to the session it shares with the
    // relay, not to the relay's session with the server.
    const relayed = yield* loopbackPair()
    const otherSession = yield* TlsSession.tlsExporterChannelBinding(honest.client.session)
    const [, refused] = yield* Effect.all(
      [
        Effect.ignore(Effect.timeout(login(relayed.client, "alice", "correct horse", otherSession), "2 seconds")),
        // The server refuses, then ends its side, which ends the client's wait.
        Effect.tap(Effect.flip(authenticate(relayed.server, credential)), () => relayed.server.writer.end)
      ],
      { concurrency: 2 }
    )
    return { verified, refused: refused._tag === "ScramError" ? refused.reason : refused._tag }
  })
)
