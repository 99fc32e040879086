/**
 * How writes reach Node's TLSSocket, seen on the wire, on both paths. The
 * TLSSocket cuts its records itself: small writes waiting together are joined
 * into one write (of everything buffered on the native path, of what fits in
 * the outbox on the duplex path), which Node cuts into full records (16 KiB
 * of plaintext each). A relay between client and server reads the TLS
 * records the client sends: each application-data record carries its
 * plaintext, one content-type byte and a 16-byte AEAD tag (TLS 1.3).
 */
import { assert, describe } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { Relay } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import { onBothPaths } from "./helpers.ts"
import { fixture, observedServer } from "./reliability-support.ts"

/** What a TLS 1.3 application-data record adds to its plaintext: the inner content type and the tag. */
const SEALING = 1 + 16
const RECORD_PLAINTEXT = 16 * 1024

/**
 * A handler that answers a first byte (a round trip: that byte's record has
 * passed the relay), then reads `bytes` and answers with one more byte, so
 * that the client knows everything arrived.
 */
const pingThenSink = (bytes: number) => (connection: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    yield* connection.writer.write(yield* connection.reader.readExactly(1))
    yield* connection.reader.readExactly(bytes)
    yield* connection.writer.write(new Uint8Array([1]))
  })

/**
 * Sends `writes` in one `writeAll` (accepted together, before the IO fiber
 * runs) after a first round trip, and returns the plaintext length of each
 * application-data record the client sent from then on, and what the server
 * received.
 */
const recordsOf = (path: TlsOptions.Path, writes: ReadonlyArray<Uint8Array>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const certs = yield* fixture
      const total = writes.reduce((n, write) => n + write.length, 0)
      const observed = yield* observedServer({ ...certs.server, path }, pingThenSink(total))
      const lengths: Array<number> = []
      const armed = { on: false }
      const relay = yield* Relay.make(observed.port, {
        onRecord: (direction, _index, record) => {
          // Application data (0x17) only, and only once armed: the client's Finished is sealed as 0x17 too.
          if (armed.on && direction === "toServer" && record[0] === 0x17) lengths.push(record.length - 5 - SEALING)
          return record
        }
      })
      const client = yield* NodeTls.connect({ host: "127.0.0.1", port: relay.port, ...certs.client, path })
      yield* client.writer.write(new Uint8Array([0]))
      yield* client.reader.readExactly(1)
      armed.on = true
      yield* client.writer.writeAll(writes)
      const ack = yield* client.reader.readExactly(1)
      assert.deepStrictEqual(Array.from(ack), [1], "the server read every byte")
      // Copied before the scope closes: close_notify, sealed as application data too, comes next.
      return [...lengths]
    })
  )

describe("writes to Node's TLSSocket", () => {
  onBothPaths("small writes waiting together leave in one write that Node cuts into full records", (path) =>
    Effect.gen(function* () {
      // 600 writes of 100 bytes: 60,000 bytes. Handed over a record of whole writes at a time, they
      // would leave as records of 16,300 bytes (163 writes); joined, Node fills each record.
      const writes = Array.from({ length: 600 }, (_, i) => new Uint8Array(100).fill(i % 251))
      const lengths = yield* recordsOf(path, writes)
      assert.deepStrictEqual(lengths, [
        RECORD_PLAINTEXT,
        RECORD_PLAINTEXT,
        RECORD_PLAINTEXT,
        60_000 - 3 * RECORD_PLAINTEXT
      ])
    })
  )
})
