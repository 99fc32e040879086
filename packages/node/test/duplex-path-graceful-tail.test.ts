/**
 * Duplex path: a graceful close delivers the tail. Both sides write several
 * MiB at once, end (close_notify) and read to the end, with readers slower
 * than the writers and a small read buffer, so that the IO fiber often stops
 * taking plaintext and the TLSSocket is paused when both directions of the
 * engine's internal duplex finish. Regression guard: the duplex destroyed
 * itself then (Node's `autoDestroy`), which destroyed the TLSSocket with
 * plaintext still buffered; the reader failed with `ConnectionReset` and up to
 * about 84 KB of completed writes were lost.
 */
import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, MemoryTransport } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

const MiB = 1024 * 1024
const TOTAL = 4 * MiB
const ROUNDS = 8
/** Chunks of at most one record, in random sizes. */
const MAX_CHUNK = 16 * 1024
const connection = {
  // A reader that takes 4 KiB at a time keeps the read buffer full most of the time.
  readBufferBytes: 4096
}

/** Deterministic chunks (xorshift32) of `TOTAL` bytes in all, and their SHA-256. */
const chunks = (seed: number) => {
  let x = seed >>> 0 || 1
  const next = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
  const out: Array<Uint8Array> = []
  const hash = createHash("sha256")
  for (let sent = 0; sent < TOTAL; ) {
    const chunk = new Uint8Array(Math.min(TOTAL - sent, 1 + (next() % MAX_CHUNK)))
    for (let i = 0; i < chunk.length; i++) chunk[i] = next() & 0xff
    hash.update(chunk)
    out.push(chunk)
    sent += chunk.length
  }
  return { chunks: out, sha256: hash.digest("hex") }
}

/** Writes `data`, then ends; reads to the end meanwhile, pausing 1 ms every 4 reads. What it read. */
const side = (tls: TlsConnection.TlsConnection, data: ReturnType<typeof chunks>) =>
  Effect.all(
    [
      Effect.gen(function* () {
        for (const chunk of data.chunks) yield* tls.writer.write(chunk)
        yield* tls.writer.end
      }),
      Effect.gen(function* () {
        const hash = createHash("sha256")
        let bytes = 0
        // Bounded: every read but the last returns at least one byte.
        for (let i = 0; i <= TOTAL; i++) {
          const chunk = yield* tls.reader.read
          if (Option.isNone(chunk)) break
          hash.update(chunk.value)
          bytes += chunk.value.length
          if (i % 4 === 3) yield* Effect.sleep("1 millis")
        }
        return { bytes, sha256: hash.digest("hex") }
      })
    ],
    { concurrency: 2 }
  ).pipe(Effect.map(([, received]) => received))

describe("duplex path: a graceful close delivers the tail", () => {
  it.live(
    `both sides write ${TOTAL / MiB} MiB with slow readers and end: every byte arrives, both outcomes Clean (${ROUNDS} rounds)`,
    () =>
      Effect.gen(function* () {
        const pki = yield* CertificateAuthority.make()
        const issued = yield* pki.issueServer()
        for (let round = 0; round < ROUNDS; round++) {
          const fromClient = chunks(2 * round + 1)
          const fromServer = chunks(2 * round + 2)
          const exit = yield* Effect.gen(function* () {
            const { a, b } = MemoryTransport.makePair({ capacity: 64 * 1024 })
            const [client, server] = yield* Effect.all(
              [
                NodeTls.upgradeClient(a, { ca: pki.root, servername: "localhost", connection }),
                NodeTls.upgradeServer(b, { credentials: [{ cert: issued.chain, key: issued.redactedKey }], connection })
              ],
              { concurrency: 2 }
            )
            const [clientGot, serverGot] = yield* Effect.all([side(client, fromClient), side(server, fromServer)], {
              concurrency: 2
            })
            return { clientGot, serverGot, client: yield* client.closed, server: yield* server.closed }
          }).pipe(Effect.scoped, Effect.timeout("10 seconds"), Effect.exit)
          if (Exit.isFailure(exit)) return assert.fail(`round ${round}: ${String(exit.cause)}`)
          const result = exit.value
          assert.deepStrictEqual(
            result.clientGot,
            { bytes: TOTAL, sha256: fromServer.sha256 },
            `round ${round}: client`
          )
          assert.deepStrictEqual(
            result.serverGot,
            { bytes: TOTAL, sha256: fromClient.sha256 },
            `round ${round}: server`
          )
          const clean = CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: true, closeNotifySent: true })
          assert.deepStrictEqual(result.client, clean, `round ${round}: client outcome`)
          assert.deepStrictEqual(result.server, clean, `round ${round}: server outcome`)
        }
      }),
    90_000
  )
})
