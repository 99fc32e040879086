/**
 * Testing your own protocol with the test kit: certificates, an in-memory
 * pair, faults, interruption. These effects are what a test would run with
 * `it.live` from `@effect/vitest`.
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as Starttls from "@effect-tls/node/Starttls"
import { CertificateAuthority, FaultTransport, MemoryTransport } from "@effect-tls/test"
import * as Effect from "effect/Effect"
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
        Starttls.client(FaultTransport.make(a, faults), { ca: pki.root, servername: "localhost" }),
        Starttls.server(b, { credentials: [{ cert: cert.chain, key: cert.redactedKey }] })
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

export const program = Effect.all({ byteByByte, cutShort, interruptedReader })
