import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { conformance } from "../../test/src/Conformance.ts"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as Wire from "../../test/src/Wire.ts"
import * as TlsConnection from "../src/TlsConnection.ts"
import * as TlsError from "../src/TlsError.ts"
import { BadRecordMac, TlsProtocolError } from "../src/TlsError.ts"

/** Transports made by this file and not destroyed yet, across every pair. */
let open = 0

const makeMemoryPair = () => {
  const pair = MemoryTransport.makePair()
  open += 2
  const counted = (transport: typeof pair.a) => {
    let destroyed = false
    return {
      ...transport,
      destroy: () => {
        if (!destroyed) open--
        destroyed = true
        transport.destroy()
      }
    }
  }
  return { a: counted(pair.a), b: counted(pair.b), control: pair.control }
}

conformance({
  name: "scripted engine over the memory transport pair",
  truncationDetectable: true,
  capabilities: ["wire", "requestKeyUpdate", "injectFatalError", "engineCallers", "receivedRecords"],
  openResources: Effect.sync(() => open),
  makePair: (options) =>
    Effect.gen(function* () {
      const { a, b, control } = makeMemoryPair()
      const engines = {
        client: ScriptedEngine.make({ role: "client" }),
        server: ScriptedEngine.make({ role: "server" })
      }
      const [client, server] = yield* Effect.all(
        [
          TlsConnection.make({ engine: engines.client, transport: a, options: options.client }),
          TlsConnection.make({ engine: engines.server, transport: b, options: options.server })
        ],
        { concurrency: 2 }
      )
      return {
        client,
        server,
        wire: Wire.memory(control),
        requestKeyUpdate: (side) => Effect.sync(() => engines[side].requestKeyUpdate()),
        injectFatalError: (side) =>
          Effect.sync(() =>
            engines[side].failWith(
              new TlsProtocolError({ reason: new BadRecordMac({ detail: "injected by the test" }) })
            )
          ),
        engineCallers: (side) => Effect.sync(() => engines[side].callers()),
        receivedRecords: (side) => Effect.sync(() => engines[side].received)
      }
    }),
  makeSilentServerPair: (options) =>
    Effect.gen(function* () {
      const { a, b } = makeMemoryPair()
      // The server runs (and times out) in the background; the client is what the suite checks.
      yield* Effect.forkScoped(
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "server", silent: true }), transport: b })
      )
      return yield* TlsConnection.make({
        engine: ScriptedEngine.make({ role: "client" }),
        transport: a,
        options: options.client
      })
    }),
  makeFailingHandshakePair: () => ({
    reason: "NoSharedCipher",
    connect: Effect.gen(function* () {
      const { a, b } = makeMemoryPair()
      const client = yield* Effect.forkScoped(
        TlsConnection.make({ engine: ScriptedEngine.make({ role: "client" }), transport: a })
      )
      const server = yield* TlsConnection.make({
        engine: ScriptedEngine.make({ role: "server", rejectHandshake: new TlsError.NoSharedCipher({}) }),
        transport: b
      }).pipe(Effect.onError(() => Effect.asVoid(Fiber.await(client))))
      return server
    })
  }),
  scale: { floodBytes: 64 * 1024 * 1024 }
})
