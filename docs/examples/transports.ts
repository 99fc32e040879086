/**
 * TLS over other transports: an Effect `Socket`, and the in-memory pair of
 * the test kit.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as EffectSocket from "@effect-tls/node/EffectSocket"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority, MemoryTransport } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { echoServer } from "./quickstart.ts"

// #region socket
/** TLS over an Effect `Socket` (here TCP from `NodeSocket.makeNet`; a WebSocket works the same). */
export const overEffectSocket = (port: number, ca: string) =>
  Effect.gen(function* () {
    const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port })
    const transport = yield* EffectSocket.toTransport(socket)
    return yield* NodeTls.upgradeClient(transport, { ca, servername: "localhost" })
  })
// #endregion socket

// #region memory
/** Both ends of a real TLS connection in memory: no socket, no port. */
export const inMemory = (ca: string, credentials: TlsOptions.ServerConnectionOptions["credentials"]) =>
  Effect.gen(function* () {
    const { a, b } = MemoryTransport.makePair({ capacity: 64 * 1024 })
    return yield* Effect.all(
      [NodeTls.upgradeClient(a, { ca, servername: "localhost" }), NodeTls.upgradeServer(b, { credentials })],
      { concurrency: 2 }
    )
  })
// #endregion memory

export const program = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const cert = yield* pki.issueServer()
    const credential = { cert: cert.chain, key: cert.redactedKey }
    const server = yield* echoServer(credential)

    const viaSocket = yield* overEffectSocket(server.address.port, pki.root)
    yield* viaSocket.writer.write("over an Effect Socket")
    yield* viaSocket.writer.end
    const echoed = (yield* Stream.runCollect(Stream.decodeText(viaSocket.reader.stream))).join("")

    const [client, peer] = yield* inMemory(pki.root, [credential])
    yield* client.writer.write("in memory\n")
    const received = new TextDecoder().decode(yield* peer.reader.readUntil("\n"))
    return { echoed, received }
  })
)
