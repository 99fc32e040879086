/**
 * Regression guard for a report from the CLI work: a client that ends its
 * write half right after the handshake, against a server that then sends a
 * large body and close_notify, must receive every byte, on both paths, every
 * time (once seen: a clean end after 0 bytes, or 48 KiB short).
 */
import { createHash } from "node:crypto"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import { CertificateAuthority } from "@effect-tls/test"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { readAll } from "./helpers.ts"

const BODY = 4 * 1024 * 1024
const ROUNDS = 25

const body = new Uint8Array(BODY)
for (let i = 0; i < BODY; i++) body[i] = (i * 7919) & 0xff
const digest = createHash("sha256").update(body).digest("hex")

describe("half-close: the client ends first, the server then sends everything", () => {
  it.live(
    `native path, ${ROUNDS} rounds of ${BODY / 1024 / 1024} MiB`,
    () =>
      Effect.gen(function* () {
        const issued = yield* Effect.orDie(CertificateAuthority.issueServer())
        const server = yield* NodeTlsServer.serve(
          { credentials: [{ cert: issued.chain, key: Redacted.make(issued.key) }] },
          (connection) =>
            Effect.gen(function* () {
              // Send in record-sized and odd-sized pieces, then close_notify.
              for (let at = 0; at < BODY; at += 65_000) {
                yield* connection.writer.write(body.subarray(at, Math.min(BODY, at + 65_000)))
              }
              yield* connection.writer.end
            }).pipe(Effect.orDie)
        )
        for (let round = 0; round < ROUNDS; round++) {
          const received = yield* Effect.scoped(
            Effect.gen(function* () {
              const client = yield* NodeTls.connect({
                host: "127.0.0.1",
                port: server.address.port,
                ca: issued.ca,
                servername: "localhost"
              })
              yield* client.writer.end
              const bytes = yield* readAll(client)
              const outcome = yield* client.closed
              return { bytes, outcome }
            })
          )
          assert.strictEqual(received.bytes.length, BODY, `round ${round}: bytes received`)
          assert.strictEqual(createHash("sha256").update(received.bytes).digest("hex"), digest, `round ${round}`)
          assert.strictEqual(received.outcome._tag, "Clean", `round ${round}: outcome`)
        }
      }).pipe(Effect.scoped),
    120_000
  )
})
