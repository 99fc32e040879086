/**
 * Testing your own protocol with the test kit: certificates, an in-memory
 * pair, faults, interruption. These effects are what a test would run with
 * `it.live` from `@effect/vitest`.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { Adversarial, CertificateAuthority, FaultTransport, MemoryTransport, TestPair } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"

/** The protocol under test: the server answers each line with its length. */
export const lengthServer = (tls: TlsConnection.TlsConnection) =>
  Effect.forever(Effect.flatMap(tls.reader.readUntil("\n"), (line) => tls.writer.write(`${line.length}\n`)))

// #region pair
/** A real TLS connection over the memory pair, with `faults` on the client's side of the wire. */
export const faultyPair = (faults: FaultTransport.Faults) =>
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const cert = yield* pki.issueServer()
    const { a, b } = MemoryTransport.makePair()
    return yield* Effect.all(
      [
        NodeTls.upgradeClient(FaultTransport.make(a, faults), { ca: pki.root, servername: "localhost" }),
        NodeTls.upgradeServer(b, { credentials: [{ cert: cert.chain, key: cert.redactedKey }] })
      ],
      { concurrency: 2 }
    )
  })
// #endregion pair

// #region tests
const decoder = new TextDecoder()

/** The protocol works when every byte arrives on its own. */
export const byteByByte = Effect.scoped(
  Effect.gen(function* () {
    const Fault = FaultTransport.Fault
    const [client, server] = yield* faultyPair({ inbound: [Fault.Chunk({ size: 1 })] })
    yield* Effect.forkChild(lengthServer(server))
    yield* client.writer.write("hello\n")
    return decoder.decode(yield* client.reader.readUntil("\n"))
  })
)

/** A connection cut in the middle is a truncation, not a clean end. */
export const cutShort = Effect.scoped(
  Effect.gen(function* () {
    const Fault = FaultTransport.Fault
    // The handshake and a little more get through, then the wire ends.
    const [client, server] = yield* faultyPair({ inbound: [Fault.EndAfter({ bytes: 5_000 })] })
    yield* server.writer.write(new Uint8Array(64 * 1024))
    const failure = yield* Effect.flip(client.reader.readExactly(64 * 1024))
    return failure._tag
  })
)

/** A reader interrupted while it waits leaves the next reader every byte. */
export const interruptedReader = Effect.scoped(
  Effect.gen(function* () {
    const [client, server] = yield* faultyPair({})
    const waiting = yield* Effect.forkChild(client.reader.readUntil("\n"))
    yield* Effect.yieldNow
    yield* Fiber.interrupt(waiting)
    yield* server.writer.write("still here\n")
    return decoder.decode(yield* client.reader.readUntil("\n"))
  })
)
// #endregion tests

// #region adversarial
/** A length-prefixed protocol: a frame is a 4-byte big-endian length, then that many bytes. */
export const writeFrame = (writer: TlsConnection.WriteHalf, payload: Uint8Array) => {
  const header = new Uint8Array(4)
  new DataView(header.buffer).setUint32(0, payload.length)
  // One writeAll: the header and the payload are accepted together, or not at all.
  return writer.writeAll([header, payload])
}

/** The next frame, or `undefined` at the clean end (the length is read whole or not at all). */
export const readFrame = (reader: TlsConnection.ReadHalf) =>
  Effect.flatMap(reader.readExactly(4), (header) =>
    reader.readExactly(new DataView(header.buffer, header.byteOffset, 4).getUint32(0))
  ).pipe(Effect.catchReason("TlsStateError", "EndOfStream", () => Effect.succeed(undefined)))

/**
 * A client sends frames and is interrupted at random points, under several
 * scheduling budgets: the server must receive exactly the frames whose
 * writes completed. A failure names the budget and the seed to replay.
 */
export const framesUnderAdversity = Adversarial.run(({ random }) =>
  Effect.scoped(
    Effect.gen(function* () {
      const { client, server } = yield* TestPair.make()
      const completed: Array<number> = []
      for (let i = 0; i < 100; i++) {
        const payload = random.bytes(random.int(0, 2000))
        const exit = yield* Adversarial.interruptAtRandom(writeFrame(client.writer, payload), random)
        if (Exit.isSuccess(exit)) completed.push(payload.length)
      }
      yield* client.writer.end
      const received: Array<number> = []
      for (let frame = yield* readFrame(server.reader); frame !== undefined; frame = yield* readFrame(server.reader)) {
        received.push(frame.length)
      }
      if (received.join() !== completed.join()) {
        return yield* Effect.fail(`received ${received.length} frames, ${completed.length} writes completed`)
      }
    })
  )
)
// #endregion adversarial

export const program = Effect.all({ byteByByte, cutShort, interruptedReader, framesUnderAdversity })
