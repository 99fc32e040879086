import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import { conformance } from "@effect-tls/test/Conformance"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import { proxy, silentServer, testServer } from "./helpers.ts"

conformance({
  name: "native path (node:tls on TCP, 127.0.0.1)",
  // A TCP FIN and a close_notify both look like a clean 'end' on a native TLSSocket.
  truncationDetectable: false,
  capabilities: ["wire"],
  makePair: (options) =>
    Effect.gen(function* () {
      const issued = yield* Effect.orDie(CertificateAuthority.issueServer())
      const { port, accepted } = yield* testServer({
        credentials: [{ cert: issued.chain, key: Redacted.make(issued.key) }],
        connection: options.server
      })
      const relay = yield* proxy(port)
      const client = yield* NodeTls.connect({
        host: "127.0.0.1",
        port: relay.port,
        ca: issued.ca,
        servername: "localhost",
        connection: options.client
      })
      const server = yield* Queue.take(accepted)
      const direction = (wire: "clientToServer" | "serverToClient") =>
        wire === "clientToServer" ? ("toServer" as const) : ("toClient" as const)
      return {
        client,
        server,
        wire: {
          pause: (wire) => relay.pause(direction(wire)),
          resume: (wire) => relay.resume(direction(wire)),
          endWithoutCloseNotify: (wire) => relay.end(direction(wire)),
          reset: relay.reset
        }
      }
    }),
  makeSilentServerPair: (options) =>
    Effect.gen(function* () {
      const { port } = yield* silentServer
      return yield* NodeTls.connect({ host: "127.0.0.1", port, connection: options.client })
    }),
  // 1000 interrupted writers: on loopback TCP most writes find room at once, and the suite wants 50
  // of them interrupted while waiting.
  scale: { floodBytes: 16 * 1024 * 1024, interruptIterations: 1000 }
})
