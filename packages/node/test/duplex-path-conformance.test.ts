/**
 * The conformance suite on the duplex path: node:tls over an in-memory duplex,
 * driven by the IO fiber, over the memory transport pair (with manual control
 * of the wire) and over TCP on 127.0.0.1.
 */
import type { Transport } from "@effect-tls/core/Transport"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
import * as Relay from "@effect-tls/test/Relay"
import * as Wire from "@effect-tls/test/Wire"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import { credentials, listen } from "./engine-path-support.ts"
import { conformanceOn } from "./runtime-support.ts"

/** Transports made by this file and not destroyed yet. */
let open = 0

const counted = (transport: Transport): Transport => {
  open++
  let destroyed = false
  return {
    setWaker: (wake) => transport.setWaker(wake),
    read: () => transport.read(),
    readEnded: () => transport.readEnded(),
    write: (chunk) => transport.write(chunk),
    writable: () => transport.writable(),
    end: () => transport.end(),
    endFinished: () => transport.endFinished(),
    failure: () => transport.failure(),
    destroy: () => {
      if (!destroyed) open--
      destroyed = true
      transport.destroy()
    }
  }
}

const scale = { interruptIterations: 200, floodBytes: 16 * 1024 * 1024, transferBytes: 2 * 1024 * 1024 }

/** An upgrade over the memory pair: a runtime that refuses the duplex path fails it before any byte. */
const duplexAttempt = Effect.gen(function* () {
  const creds = yield* Effect.orDie(credentials)
  return yield* NodeTls.upgradeClient(MemoryTransport.makePair().a, creds.client)
})

conformanceOn(
  "duplex",
  {
    name: "duplex path (node:tls over a duplex) over the memory transport pair",
    truncationDetectable: true,
    capabilities: ["wire"],
    openResources: Effect.sync(() => open),
    scale,
    makePair: (options) =>
      Effect.gen(function* () {
        const creds = yield* Effect.orDie(credentials)
        const pair = MemoryTransport.makePair()
        const [client, server] = yield* Effect.all(
          [
            NodeTls.upgradeClient(counted(pair.a), { ...creds.client, connection: options.client }),
            NodeTls.upgradeServer(counted(pair.b), { ...creds.server, connection: options.server })
          ],
          { concurrency: 2 }
        )
        return { client, server, wire: Wire.memory(pair.control) }
      }),
    makeSilentServerPair: (options) =>
      Effect.gen(function* () {
        const creds = yield* Effect.orDie(credentials)
        const pair = MemoryTransport.makePair()
        // Nobody reads side b: the ClientHello is never answered.
        yield* Effect.addFinalizer(() => Effect.sync(() => pair.b.destroy()))
        return yield* NodeTls.upgradeClient(counted(pair.a), { ...creds.client, connection: options.client })
      }),
    makeFailingHandshakePair: () => ({
      reason: "UnknownCa",
      connect: Effect.gen(function* () {
        const creds = yield* Effect.orDie(credentials)
        const pair = MemoryTransport.makePair()
        const server = yield* Effect.forkScoped(NodeTls.upgradeServer(counted(pair.b), creds.server))
        return yield* NodeTls.upgradeClient(counted(pair.a), { servername: "localhost" }).pipe(
          Effect.onError(() => Effect.asVoid(Fiber.await(server)))
        )
      })
    })
  },
  duplexAttempt
)

// Over TCP through a pausable relay: loopback kernel buffers absorb megabytes,
// so without the relay no write would ever block (and the interrupted-write
// test could not interrupt one while it waits).
conformanceOn(
  "duplex",
  {
    name: "duplex path (node:tls over a duplex) over TCP",
    truncationDetectable: true,
    capabilities: ["wire"],
    openResources: Effect.sync(() => open),
    scale: { floodBytes: scale.floodBytes, transferBytes: scale.transferBytes, interruptIterations: 1000 },
    makePair: (options) =>
      Effect.gen(function* () {
        const creds = yield* Effect.orDie(credentials)
        const listener = yield* Effect.orDie(listen)
        const relay = yield* Relay.make(listener.port)
        const serverFiber = yield* Effect.forkScoped(
          Effect.gen(function* () {
            const transport = yield* NodeTransport.fromSocket(yield* listener.accept)
            return yield* NodeTls.upgradeServer(counted(transport), { ...creds.server, connection: options.server })
          })
        )
        const transport = yield* NodeTransport.connect({ host: "127.0.0.1", port: relay.port })
        const client = yield* NodeTls.upgradeClient(counted(transport), { ...creds.client, connection: options.client })
        const server = yield* Fiber.join(serverFiber)
        return { client, server, wire: Wire.relay(relay) }
      })
  },
  duplexAttempt
)
