/**
 * Backpressure and the buffer limits: a writer outrunning a reader that does
 * not read suspends once the buffers between them are full, and memory stays
 * bounded by the limits.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { loopbackPair } from "./loopback.ts"

// #region limits
/** Small buffers for a connection that handles many small messages. */
export const smallBuffers: TlsConnection.ConnectionOptions = {
  readBufferBytes: 16 * 1024, // plaintext waiting for readers before the IO fiber stops reading
  writeBufferBytes: 16 * 1024, // plaintext accepted before `write` suspends
  controlBufferBytes: 16 * 1024, // ciphertext waiting for the transport before reading stops
  handshakeTimeout: "5 seconds",
  closeTimeout: "2 seconds"
}
// #endregion limits

// #region stalled
/** Writes until a write has been suspended for `patience`: returns how much was accepted. */
export const writeUntilStalled = (writer: TlsConnection.WriteHalf, patience: Duration.Input) =>
  Effect.gen(function* () {
    const chunk = new Uint8Array(16 * 1024)
    let accepted = 0
    for (let i = 0; i < 100_000; i++) {
      const done = yield* Effect.timeoutOption(writer.write(chunk), patience)
      if (done._tag === "None") return accepted // the peer is not reading: write is suspended
      accepted += chunk.length
    }
    return accepted
  })
// #endregion stalled

export const program = Effect.scoped(
  Effect.gen(function* () {
    const { client, server } = yield* loopbackPair({
      client: { connection: smallBuffers },
      server: { connection: smallBuffers }
    })
    // The server never reads: the client's writes fill its buffers, the
    // kernel's socket buffers, then the client's write half suspends.
    const accepted = yield* writeUntilStalled(client.writer, "200 millis")
    const serverStats = yield* server.stats
    // Reading on the server frees space; the client's writer moves again.
    const resumed = yield* Effect.forkChild(client.writer.write(new Uint8Array(16 * 1024)))
    yield* server.reader.readExactly(accepted)
    yield* Fiber.join(resumed)
    return { accepted, serverReadBuffered: serverStats.readBuffered, limit: smallBuffers.readBufferBytes ?? 0 }
  })
)
