import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as IdentityEngine from "../../test/src/IdentityEngine.ts"
import { parseAll, RecordType } from "../../test/src/internal/records.ts"
import * as MemoryTransport from "../../test/src/MemoryTransport.ts"
import * as ScriptedEngine from "../../test/src/ScriptedEngine.ts"
import * as TlsConnection from "../src/TlsConnection.ts"
import * as TlsError from "../src/TlsError.ts"
import { BadRecordMac, TlsProtocolError } from "../src/TlsError.ts"
import { TlsEvent } from "../src/TlsEvent.ts"
import { scriptedPair, text } from "./utils/scriptedPair.ts"

/** Resolves after pending microtasks (where the memory transport calls wakers) have run. */
const microtasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe("MemoryTransport", () => {
  it("blocks a writer at its capacity and wakes it, asynchronously, when the reader frees space", async () => {
    const { a, b } = MemoryTransport.makePair({ capacity: 10 })
    let wakesA = 0
    let wakesB = 0
    a.setWaker(() => wakesA++)
    b.setWaker(() => wakesB++)
    assert.isTrue(a.write(new Uint8Array(4)))
    assert.isFalse(a.write(new Uint8Array(6)), "write at capacity should ask the writer to wait")
    assert.isFalse(a.writable())
    assert.strictEqual(wakesB, 0, "a waker was called from inside write")
    await microtasks()
    assert.strictEqual(wakesB, 1, "two writes should coalesce into one wake-up of the reader")
    assert.strictEqual(b.read()?.length, 4)
    assert.strictEqual(wakesA, 0)
    await microtasks()
    assert.strictEqual(wakesA, 1, "the writer was not woken when space freed")
    assert.isTrue(a.writable())
  })

  it("pause holds bytes and EOF; chunkSize slices; end and destroy are seen by the peer", async () => {
    const { a, b, control } = MemoryTransport.makePair()
    a.setWaker(() => {})
    b.setWaker(() => {})
    control.pause("aToB")
    a.write(new Uint8Array(10).fill(7))
    a.end()
    assert.isUndefined(b.read())
    assert.isFalse(b.readEnded(), "EOF crossed a paused wire")
    control.setChunkSize("aToB", 4)
    control.resume("aToB")
    assert.deepStrictEqual([b.read()?.length, b.read()?.length, b.read()?.length, b.read()], [4, 4, 2, undefined])
    assert.isTrue(b.readEnded())
    assert.isTrue(a.endFinished())
    assert.strictEqual(control.bytesCarried("aToB"), 10)
    assert.strictEqual(control.open(), 2)
    b.destroy()
    b.destroy()
    assert.strictEqual(control.open(), 1)
    assert.isTrue(a.readEnded(), "the peer's destroy should look like EOF")
    await microtasks()
  })

  it("reset fails both sides with ConnectionReset", () => {
    const { a, b, control } = MemoryTransport.makePair()
    a.setWaker(() => {})
    b.setWaker(() => {})
    a.write(new Uint8Array(5))
    control.reset()
    for (const side of [a, b]) {
      const failure = side.failure()
      assert.strictEqual(failure?._tag, "TlsTransportError")
      assert.strictEqual(failure?.reason._tag, "ConnectionReset")
    }
    assert.isUndefined(b.read(), "bytes survived a reset")
  })

  it("end cuts the wire: the receiver sees EOF after what was buffered, later writes vanish", () => {
    const { a, b, control } = MemoryTransport.makePair()
    a.setWaker(() => {})
    b.setWaker(() => {})
    a.write(new Uint8Array(3))
    control.end("aToB")
    a.write(new Uint8Array(100))
    assert.strictEqual(b.read()?.length, 3)
    assert.isUndefined(b.read())
    assert.isTrue(b.readEnded())
  })
})

describe("ScriptedEngine", () => {
  /** Moves every ciphertext record from one engine to the other. */
  const pump = (from: ScriptedEngine.ScriptedEngine, to: ScriptedEngine.ScriptedEngine) => {
    for (let c = from.takeCiphertext(); c !== undefined; c = from.takeCiphertext()) to.receiveCiphertext(c)
  }
  const handshake = () => {
    const client = ScriptedEngine.make({ role: "client" })
    const server = ScriptedEngine.make({ role: "server" })
    client.start()
    server.start()
    pump(client, server)
    pump(server, client)
    pump(client, server)
    assert.isTrue(client.handshakeDone() && server.handshakeDone())
    return { client, server }
  }

  it("answers a KeyUpdate that asks for it while reading, in its ciphertext output", () => {
    const { client, server } = handshake()
    server.requestKeyUpdate()
    pump(server, client)
    const answer = client.takeCiphertext()
    assert.isDefined(answer)
    const records = parseAll(answer as Uint8Array)
    assert.deepStrictEqual(
      records.map((r) => [r.type, Array.from(r.payload)]),
      [[RecordType.keyUpdate, [0]]]
    )
    assert.deepStrictEqual(
      client.takeEvents().map((e) => e._tag === "KeyUpdate" && [e.direction, e.requested]),
      [
        ["received", true],
        ["sent", false]
      ]
    )
  })

  it("splits plaintext into records of at most 16 KiB", () => {
    const { client } = handshake()
    client.sendPlaintext(new Uint8Array(40 * 1024))
    const sizes: Array<number> = []
    for (let c = client.takeCiphertext(); c !== undefined; c = client.takeCiphertext()) {
      for (const record of parseAll(c)) sizes.push(record.payload.length)
    }
    assert.deepStrictEqual(sizes, [16384, 16384, 8192])
  })

  it("a malformed record produces a fatal decode_error alert, then a DecodeError", () => {
    const { client } = handshake()
    client.receiveCiphertext(Uint8Array.of(99, 0, 0))
    const failure = client.failure()
    assert.strictEqual(failure?._tag, "TlsProtocolError")
    assert.strictEqual(failure?._tag === "TlsProtocolError" && failure.reason._tag, "DecodeError")
    const alert = parseAll(client.takeCiphertext() as Uint8Array)
    assert.deepStrictEqual(
      alert.map((r) => [r.type, Array.from(r.payload)]),
      [[RecordType.alert, [2, ScriptedEngine.Alert.decodeError]]]
    )
  })

  it("data before the handshake is an UnexpectedMessage protocol error", () => {
    const server = ScriptedEngine.make({ role: "server" })
    server.start()
    server.receiveCiphertext(Uint8Array.of(RecordType.data, 0, 1, 65))
    const failure = server.failure()
    assert.strictEqual(failure?._tag === "TlsProtocolError" && failure.reason._tag, "UnexpectedMessage")
  })

  it("closeNotify ends the inbound side cleanly; EOF without it is a truncation", () => {
    const first = handshake()
    first.server.sendEnd()
    pump(first.server, first.client)
    assert.strictEqual(first.client.inbound(), "CloseNotify")
    const second = handshake()
    second.client.receiveEnd()
    assert.strictEqual(second.client.inbound(), "Truncated")
  })

  it("rejectHandshake fails the server with that reason and the client with AlertReceived", () => {
    const client = ScriptedEngine.make({ role: "client" })
    const server = ScriptedEngine.make({ role: "server", rejectHandshake: new TlsError.UnknownCa({}) })
    client.start()
    server.start()
    pump(client, server)
    pump(server, client)
    const serverFailure = server.failure()
    const clientFailure = client.failure()
    assert.strictEqual(serverFailure?._tag === "TlsHandshakeError" && serverFailure.reason._tag, "UnknownCa")
    assert.strictEqual(clientFailure?._tag === "TlsHandshakeError" && clientFailure.reason._tag, "AlertReceived")
  })
})

describe("scripted connections", () => {
  it.live("a fatal alert from the peer fails the connection with AlertReceived and its code", () =>
    Effect.gen(function* () {
      const { client, serverEngine } = yield* scriptedPair()
      serverEngine.sendAlert("fatal", 20)
      const error = yield* Effect.flip(client.reader.read)
      assert.strictEqual(error._tag, "TlsProtocolError")
      assert.strictEqual(error._tag === "TlsProtocolError" && error.reason._tag, "AlertReceived")
      assert.strictEqual(
        error._tag === "TlsProtocolError" && error.reason._tag === "AlertReceived" && error.reason.alert,
        20
      )
      const outcome = yield* client.closed
      assert.strictEqual(outcome._tag, "Failed")
    })
  )

  it.live("a warning alert is an event, not a failure", () =>
    Effect.gen(function* () {
      const { client, server, serverEngine } = yield* scriptedPair()
      serverEngine.sendAlert("warning", 90)
      yield* server.writer.write("still here")
      assert.strictEqual(text(yield* client.reader.readExactly(10)), "still here")
      const alerts = yield* client.events.pipe(
        Stream.filter((event) => event._tag === "AlertReceived"),
        Stream.take(1),
        Stream.runCollect
      )
      assert.deepStrictEqual(alerts, [TlsEvent.AlertReceived({ level: "warning", description: 90 })])
    })
  )

  it.live("IdentityEngine carries bytes unchanged and ends cleanly", () =>
    Effect.gen(function* () {
      const { a, b } = MemoryTransport.makePair()
      const [client, server] = yield* Effect.all(
        [
          TlsConnection.make({ engine: IdentityEngine.make({ role: "client" }), transport: a }),
          TlsConnection.make({ engine: IdentityEngine.make({ role: "server" }), transport: b })
        ],
        { concurrency: 2 }
      )
      yield* Effect.forkChild(Effect.andThen(client.writer.writeAll(["ab", "cd"]), client.writer.end))
      assert.strictEqual(text(yield* server.reader.readExactly(4)), "abcd")
      assert.isTrue(Option.isNone(yield* server.reader.read))
    })
  )

  it.live("an injected engine error fails both halves with that error", () =>
    Effect.gen(function* () {
      const { client, clientEngine } = yield* scriptedPair()
      const injected = new TlsProtocolError({ reason: new BadRecordMac({}) })
      clientEngine.failWith(injected)
      // Woken by the failure, this fiber runs before the IO fiber finishes failing the
      // connection: the write half must already refuse.
      assert.strictEqual(yield* Effect.flip(client.reader.read), injected)
      assert.strictEqual(yield* Effect.flip(client.writer.write("x")), injected)
    })
  )
})
