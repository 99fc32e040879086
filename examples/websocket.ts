/**
 * TLS over an Effect WebSocket: the WebSocket carries TLS records as binary
 * messages, end to end between the two programs, whatever proxies terminate
 * (or inspect) the WebSocket on the way. The server is `@effect/platform-node`'s
 * WebSocket `SocketServer` (the `ws` package) on 127.0.0.1; the client is
 * Effect's `Socket.makeWebSocket` over Node's global `WebSocket`.
 *
 * Run: `pnpm example websocket`
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as EffectSocket from "@effect-tls/node/EffectSocket"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Socket from "effect/socket/Socket"

export const main = Effect.scoped(
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make({ name: "websocket example" })
    const cert = yield* pki.issueServer()
    const acceptor = yield* NodeTlsServer.makeAcceptor({ credentials: [{ cert: cert.chain, key: cert.redactedKey }] })

    // Server: every WebSocket becomes a transport; TLS in the server role over
    // it; then a line protocol that answers in upper case.
    const server = yield* NodeSocketServer.makeWebSocket({ host: "127.0.0.1", port: 0 })
    yield* Effect.forkScoped(
      server.run((socket) =>
        Effect.scoped(
          Effect.gen(function* () {
            const tls = yield* acceptor.upgrade(yield* EffectSocket.toTransport(socket))
            yield* tls.reader.stream.pipe(
              Stream.decodeText(),
              Stream.splitLines,
              Stream.map((line) => `${line.toUpperCase()}\n`),
              Stream.encodeText,
              Stream.run(tls.writer.sink)
            )
          })
        )
      )
    )
    if (server.address._tag !== "InetAddressV4") return yield* Effect.die(new Error("expected a TCP address"))
    const url = `ws://127.0.0.1:${server.address.port}`
    yield* Console.log(`WebSocket server on ${url}`)

    // Client: a WebSocket as a transport, TLS in the client role over it.
    const socket = yield* Socket.makeWebSocket(url).pipe(Effect.provide(Socket.layerWebSocketConstructorGlobal))
    const tls = yield* NodeTls.upgradeClient(yield* EffectSocket.toTransport(socket), {
      ca: pki.root,
      servername: "localhost"
    })
    yield* Console.log(`TLS over WebSocket: ${tls.session.protocol} ${tls.session.cipher}`)
    yield* tls.writer.writeAll(["hello\n", "from inside a websocket\n"])
    yield* tls.writer.end
    const answers = yield* tls.reader.stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
    for (const answer of answers) yield* Console.log(`server: ${answer}`)
    return answers
  })
)

if (import.meta.main) NodeRuntime.runMain(main)
