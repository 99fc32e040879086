/**
 * A client that ends its write half right after the handshake, against a
 * server that then sends a body and close_notify, receives every byte, every
 * time. Regression guard: Node requests the TCP shutdown without waiting for
 * TLS output it is still writing, so a client's Finished written just after
 * 'secureConnect' could be lost behind the FIN; the server then saw the
 * handshake cut short and the client a clean end after 0 bytes (about half of
 * the rounds against a peer in another process, before the fix).
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { readAll } from "./helpers.ts"

const BODY = 1024 * 1024
const ROUNDS = 30

const body = new Uint8Array(BODY)
for (let i = 0; i < BODY; i++) body[i] = (i * 7919) & 0xff
const digest = createHash("sha256").update(body).digest("hex")

/** A raw node:tls server in a child process; stopped with the scope. */
const peerInAnotherProcess = (key: string, cert: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly port: number; readonly stop: () => void }, Error>((resume) => {
      const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/source-server.ts", import.meta.url))], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      child.stdout.once("data", (line: Buffer) =>
        resume(Effect.succeed({ port: Number(line.toString().trim()), stop: () => child.kill() }))
      )
      child.once("error", (error) => resume(Effect.fail(error)))
      child.stdin.write(JSON.stringify({ key, cert, bytes: BODY }))
      return Effect.sync(() => child.kill())
    }).pipe(Effect.timeout("10 seconds")),
    (peer) => Effect.sync(() => peer.stop())
  )

const halfCloseRounds = (port: number, ca: string) =>
  Effect.gen(function* () {
    for (let round = 0; round < ROUNDS; round++) {
      const received = yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* NodeTls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" })
          yield* client.writer.end
          const bytes = yield* readAll(client)
          return { bytes, outcome: yield* client.closed }
        })
      ).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(received.bytes.length, BODY, `round ${round}: bytes received`)
      assert.strictEqual(createHash("sha256").update(received.bytes).digest("hex"), digest, `round ${round}`)
      assert.strictEqual(received.outcome._tag, "Clean", `round ${round}: outcome`)
    }
  })

describe("half-close: the client ends first, the server then sends everything", () => {
  it.live(
    `native client against a node:tls server in another process, ${ROUNDS} rounds`,
    () =>
      Effect.gen(function* () {
        const issued = yield* Effect.orDie(CertificateAuthority.issueServer())
        const peer = yield* peerInAnotherProcess(issued.key, issued.chain)
        yield* halfCloseRounds(peer.port, issued.ca)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    `native client and server in one process, ${ROUNDS} rounds`,
    () =>
      Effect.gen(function* () {
        const issued = yield* Effect.orDie(CertificateAuthority.issueServer())
        const server = yield* NodeTls.serve(
          { credentials: [{ cert: issued.chain, key: Redacted.make(issued.key) }] },
          (connection) =>
            Effect.gen(function* () {
              for (let at = 0; at < BODY; at += 65_000) {
                yield* connection.writer.write(body.subarray(at, Math.min(BODY, at + 65_000)))
              }
              yield* connection.writer.end
            }).pipe(Effect.orDie)
        )
        yield* halfCloseRounds(server.address.port, issued.ca)
      }).pipe(Effect.scoped),
    120_000
  )
})
