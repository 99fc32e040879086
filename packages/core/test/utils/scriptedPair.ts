import * as Effect from "effect/Effect"
import * as MemoryTransport from "../../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../../src/TlsConnection.ts"
import type { TlsError } from "../../src/TlsError.ts"

/** A connected client/server pair on scripted engines over the memory transport, with their handles. */
export const scriptedPair = (options?: {
  readonly client?: TlsConnection.ConnectionOptions
  readonly server?: TlsConnection.ConnectionOptions
  readonly transport?: MemoryTransport.Options
}) =>
  Effect.gen(function* () {
    const { a, b, control } = MemoryTransport.makePair(options?.transport)
    const clientEngine = ScriptedEngine.make({ role: "client" })
    const serverEngine = ScriptedEngine.make({ role: "server" })
    const [client, server] = yield* Effect.all(
      [
        TlsConnection.make({ engine: clientEngine, transport: a, options: options?.client }),
        TlsConnection.make({ engine: serverEngine, transport: b, options: options?.server })
      ],
      { concurrency: 2 }
    )
    return { client, server, control, clientEngine, serverEngine }
  })

/**
 * Writes each part as its own record: the connection joins small writes that
 * are waiting together, so each part is flushed (handed to the engine) before
 * the next is written.
 */
export const writeRecords = (
  writer: TlsConnection.WriteHalf,
  parts: ReadonlyArray<string | Uint8Array>
): Effect.Effect<void, TlsError> =>
  Effect.forEach(parts, (part) => Effect.andThen(writer.write(part), writer.flush), { discard: true })

export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
