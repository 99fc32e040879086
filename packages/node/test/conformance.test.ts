import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, Loopback, Relay, Wire } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { credential, testServer } from "./helpers.ts"
import { conformanceOn } from "./runtime-support.ts"

/** A client on the native path towards a port nothing answers on: a runtime that refuses the path fails first. */
const nativeAttempt = Effect.gen(function* () {
  const { port } = yield* Loopback.listen()
  return yield* NodeTls.connect({ host: "127.0.0.1", port, path: "native" })
})

conformanceOn(
  "native",
  {
    name: "native path (node:tls on TCP, 127.0.0.1)",
    // A TCP FIN and a close_notify both look like a clean 'end' on a native TLSSocket.
    truncationDetectable: false,
    capabilities: ["wire"],
    makePair: (options) =>
      Effect.gen(function* () {
        const issued = yield* Effect.orDie(CertificateAuthority.issueServer())
        const { port, accepted } = yield* testServer({
          credentials: [credential(issued)],
          path: "native",
          connection: options.server
        })
        const relay = yield* Relay.make(port)
        const client = yield* NodeTls.connect({
          host: "127.0.0.1",
          port: relay.port,
          path: "native",
          ca: issued.ca,
          servername: "localhost",
          connection: options.client
        })
        const server = yield* Queue.take(accepted)
        return { client, server, wire: Wire.relay(relay) }
      }),
    makeSilentServerPair: (options) =>
      Effect.gen(function* () {
        const { port } = yield* Loopback.listen()
        return yield* NodeTls.connect({ host: "127.0.0.1", port, path: "native", connection: options.client })
      }),
    // 1000 interrupted writers: on loopback TCP most writes find room at once, and the suite wants 50
    // of them interrupted while waiting.
    scale: { floodBytes: 16 * 1024 * 1024, interruptIterations: 1000 }
  },
  nativeAttempt
)
