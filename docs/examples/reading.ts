/**
 * Reading protocols with the read half: length-prefixed frames with
 * `readExactly`, lines with `readUntil`, and a stream of text.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { loopbackPair } from "./loopback.ts"

// #region frames
/** A frame: a 4-byte big-endian length, then that many bytes. */
export const writeFrame = (writer: TlsConnection.WriteHalf, payload: Uint8Array) => {
  const header = new Uint8Array(4)
  new DataView(header.buffer).setUint32(0, payload.length)
  return writer.writeAll([header, payload])
}

/** Reads one frame; the TLS records may split or merge frames in any way. */
export const readFrame = (reader: TlsConnection.ReadHalf, maxLength = 1024 * 1024) =>
  Effect.gen(function* () {
    const header = yield* reader.readExactly(4)
    const length = new DataView(header.buffer, header.byteOffset, 4).getUint32(0)
    if (length > maxLength) return yield* Effect.fail(new Error(`frame of ${length} bytes`))
    return yield* reader.readExactly(length)
  })
// #endregion frames

// #region lines
const decoder = new TextDecoder()

/** One CRLF-terminated line of at most 1000 bytes (`FrameTooLong` beyond, nothing consumed). */
export const readLine = (reader: TlsConnection.ReadHalf) =>
  Effect.map(reader.readUntil("\r\n", { maxBytes: 1000 }), (bytes) => decoder.decode(bytes))
// #endregion lines

// #region stream
/** Every remaining line, as a stream that ends at the peer's close_notify. */
export const lines = (reader: TlsConnection.ReadHalf) => reader.stream.pipe(Stream.decodeText(), Stream.splitLines)
// #endregion stream

const encoder = new TextEncoder()

export const program = Effect.scoped(
  Effect.gen(function* () {
    const { client, server } = yield* loopbackPair()
    // The server writes a frame byte by byte, a line, and more lines, then ends.
    const big = encoder.encode("x".repeat(100_000))
    yield* Effect.forkChild(
      Effect.gen(function* () {
        yield* writeFrame(server.writer, big)
        yield* server.writer.write("OK ready\r\n")
        yield* server.writer.writeAll(["one\n", "tw", "o\nthree\n"])
        yield* server.writer.end
      })
    )
    const frame = yield* readFrame(client.reader)
    const line = yield* readLine(client.reader)
    const rest = yield* Stream.runCollect(lines(client.reader))
    return { frameLength: frame.length, line, rest }
  })
)
