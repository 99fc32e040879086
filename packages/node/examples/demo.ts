/**
 * effect-tls demo (`pnpm demo`): a mutual-TLS server with ALPN on 127.0.0.1,
 * certificates made at start-up, and a client whose read and write halves
 * run in separate fibers. The reader is interrupted in the middle of a
 * transfer; the writer carries on; a new reader reads the rest; both sides
 * check with SHA-256 that every byte arrived exactly once.
 */
import { createHash, randomBytes } from "node:crypto"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import { CertificateAuthority } from "@effect-tls/test"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

const TOTAL = 32 * 1024 * 1024
const CHUNK = 64 * 1024
const INTERRUPT_AFTER = 8 * 1024 * 1024

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
const rate = (bytes: number, ms: number) => `${((bytes / 1024 / 1024) * (1000 / Math.max(ms, 1))).toFixed(0)} MiB/s`

/** Writes TOTAL random bytes, returns their SHA-256. */
const upload = (connection: TlsConnection.TlsConnection, progress: { sent: number }) =>
  Effect.gen(function* () {
    const hash = createHash("sha256")
    while (progress.sent < TOTAL) {
      const chunk = randomBytes(Math.min(CHUNK, TOTAL - progress.sent))
      yield* connection.writer.write(chunk)
      hash.update(chunk)
      progress.sent += chunk.length
    }
    yield* connection.writer.end
    return hash.digest("hex")
  })

/** Reads into `hash`; each chunk is accounted for in the same uninterruptible step that received it. */
const readInto = (
  connection: TlsConnection.TlsConnection,
  state: { readonly hash: ReturnType<typeof createHash>; received: number },
  onProgress: (received: number) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function* () {
    for (let i = 0; i < 10_000_000; i++) {
      const chunk = yield* Effect.uninterruptibleMask((restore) =>
        Effect.tap(restore(connection.reader.read), (chunk) =>
          Effect.sync(() => {
            if (Option.isSome(chunk)) {
              state.hash.update(chunk.value)
              state.received += chunk.value.length
            }
          })
        )
      )
      if (Option.isNone(chunk)) return
      yield* onProgress(state.received)
    }
  })

const program = Effect.gen(function* () {
  const started = Date.now()
  const pki = yield* CertificateAuthority.make({ name: "effect-tls demo" })
  const serverCert = yield* pki.issueServer()
  const clientCert = yield* pki.issueClient({ commonName: "demo client" })
  yield* Console.log(`certificates made in ${Date.now() - started} ms (root, intermediate, server, client; P-256)`)

  const serverResult = yield* Deferred.make<{ uploadHash: string; uploaded: number; downloadHash: string }>()
  const server = yield* NodeTls.serve(
    {
      credentials: [{ cert: serverCert.chain, key: serverCert.redactedKey }],
      clientAuth: { mode: "require", ca: pki.root },
      alpn: ["demo/1"]
    },
    (connection) =>
      Effect.gen(function* () {
        const peer = connection.session.peerCertificates[0]
        yield* Console.log(`server: accepted ${peer?.subject ?? "?"} (verified: ${connection.session.peerVerified})`)
        const state = { hash: createHash("sha256"), received: 0 }
        const [downloadHash] = yield* Effect.all([upload(connection, { sent: 0 }), readInto(connection, state)], {
          concurrency: 2
        })
        yield* Deferred.succeed(serverResult, {
          uploadHash: state.hash.digest("hex"),
          uploaded: state.received,
          downloadHash
        })
      })
  )
  yield* Console.log(`server: listening on ${server.address.host}:${server.address.port} (mutual TLS, ALPN demo/1)`)

  const client = yield* NodeTlsClient.make({
    ca: pki.root,
    credential: { cert: clientCert.chain, key: Redacted.make(clientCert.key) },
    alpn: ["demo/1"]
  })
  const connection = yield* client.connect({ host: "127.0.0.1", port: server.address.port, servername: "localhost" })
  const s = connection.session
  yield* Console.log(
    [
      "client: connected",
      `  protocol     ${s.protocol}`,
      `  cipher       ${s.cipher}`,
      `  group        ${s.group ?? "?"}`,
      `  ALPN         ${s.alpn ?? "none"}`,
      `  SNI          ${s.servername ?? "none"}`,
      `  peer         ${s.peerCertificates[0]?.subject ?? "?"} (issuer ${s.peerCertificates[0]?.issuer ?? "?"})`,
      `  SANs         ${s.peerCertificates[0]?.subjectAltNames.join(", ") ?? ""}`,
      `  fingerprint  ${s.peerCertificates[0]?.fingerprint256.slice(0, 23) ?? "?"}...`,
      `  verified     ${s.peerVerified}, resumed ${s.resumed}`
    ].join("\n")
  )

  // Writer and reader in separate fibers.
  const transferStart = Date.now()
  const progress = { sent: 0 }
  const writer = yield* Effect.forkChild(upload(connection, progress))
  const state = { hash: createHash("sha256"), received: 0 }
  const halfway = yield* Deferred.make<void>()
  const reader1 = yield* Effect.forkChild(
    readInto(connection, state, (received) =>
      received >= INTERRUPT_AFTER ? Deferred.succeed(halfway, undefined) : Effect.void
    )
  )
  yield* Deferred.await(halfway)
  yield* Fiber.interrupt(reader1)
  const sentAtInterrupt = progress.sent
  const receivedAtInterrupt = state.received
  yield* Console.log(`client: reader interrupted after ${mib(receivedAtInterrupt)} MiB received`)
  // The writer is not affected by the reader's interruption.
  yield* Effect.sleep("100 millis")
  yield* Console.log(
    `client: writer carried on: ${mib(sentAtInterrupt)} MiB sent at the interruption, ${mib(progress.sent)} MiB 100 ms later`
  )
  yield* readInto(connection, state)
  const receivedMs = Date.now() - transferStart
  const uploadHash = yield* Fiber.join(writer)
  const sentMs = Date.now() - transferStart
  yield* Console.log(`client: a new reader read the rest: ${mib(state.received - receivedAtInterrupt)} MiB`)

  const result = yield* Deferred.await(serverResult)
  const downloadOk = state.received === TOTAL && state.hash.digest("hex") === result.downloadHash
  const uploadOk = result.uploaded === TOTAL && result.uploadHash === uploadHash
  const stats = yield* connection.stats
  yield* Console.log(
    [
      "transfer (times include the 100 ms pause above):",
      `  server -> client  ${mib(TOTAL)} MiB in ${receivedMs} ms (${rate(TOTAL, receivedMs)}), every byte once: ${downloadOk}`,
      `  client -> server  ${mib(TOTAL)} MiB in ${sentMs} ms (${rate(TOTAL, sentMs)}), every byte once: ${uploadOk}`,
      `  connection stats  ${stats.bytesRead} bytes read, ${stats.bytesWritten} bytes written`
    ].join("\n")
  )
  if (!downloadOk || !uploadOk) return yield* Effect.die(new Error("data was lost or duplicated"))
  yield* Console.log(`done in ${Date.now() - started} ms`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
