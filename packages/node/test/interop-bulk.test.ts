/**
 * 64 MiB each way between our client or server and a real peer, both
 * directions at once, checked with SHA-256 (slow; own file). The peers move
 * bulk data through their stdin and stdout: `s_server`/`s_client` in `-quiet`
 * mode, `gnutls-serv --echo` (our data comes back), `gnutls-cli`.
 */
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import {
  credential,
  freePort,
  hasGnutls,
  hashSink,
  hasNamespaces,
  hasOpenssl,
  namespacedServer,
  openssl,
  type Peer,
  payload,
  pemFiles,
  readHashed,
  spawnPeer,
  tempDir,
  waitForPort,
  writePieces
} from "./interop-support.ts"

const MiB = 1024 * 1024
const SIZE = 64 * MiB
/** Our writes and the peer's stdin writes. */
const PIECE = 64 * 1024

const pki = Effect.gen(function* () {
  const server = yield* CertificateAuthority.issueServer()
  const dir = yield* tempDir(pemFiles("server", server))
  return { server, dir, file: (name: string) => join(dir, name) }
})

/** Our server for one connection, handed to the test. */
const ourServer = (server: CertificateAuthority.Issued) =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<TlsConnection.TlsConnection>()
    const release = yield* Deferred.make<void>()
    const running = yield* NodeTls.serve(
      { credentials: [credential(server)], shutdownTimeout: "200 millis" },
      (connection) => Effect.andThen(Queue.offer(accepted, connection), Deferred.await(release))
    )
    return { port: running.address.port, accept: Queue.take(accepted).pipe(Effect.timeout("10 seconds")) }
  })

/** Splits a payload's pieces into stdin-sized writes. */
const feed = (peer: Peer, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(
    pieces,
    (piece) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(piece.length / PIECE) }, (_, i) => piece.subarray(i * PIECE, (i + 1) * PIECE)),
        (slice) => peer.send(slice),
        { discard: true }
      ),
    { discard: true }
  )

/**
 * Both directions at once: the peer's stdin to us, and our writes to the
 * peer's stdout (or its echo). Returns what each side got.
 */
const exchange = (
  connection: TlsConnection.TlsConnection,
  peer: Peer,
  sink: ReturnType<typeof hashSink>,
  toPeer: ReturnType<typeof payload>,
  fromPeer: ReturnType<typeof payload> | undefined
) =>
  Effect.gen(function* () {
    const started = Date.now()
    const feeder = fromPeer === undefined ? undefined : yield* Effect.forkChild(feed(peer, fromPeer.pieces))
    const writer = yield* Effect.forkChild(writePieces(connection, toPeer.pieces))
    const received = yield* readHashed(connection, fromPeer?.size ?? toPeer.size)
    yield* Fiber.join(writer)
    if (feeder !== undefined) yield* Fiber.join(feeder)
    const printed = fromPeer === undefined ? undefined : yield* sink.digest(toPeer.size, "20 seconds")
    const seconds = (Date.now() - started) / 1000
    return { received, printed, seconds }
  })

/** 64 pieces of 1 MiB: the peer's stdin and our writes. */
const bulk = () => payload(SIZE / MiB, MiB)

describe.skipIf(!hasOpenssl)("interop bulk: openssl", () => {
  it.live(
    "our client and s_server -quiet: 64 MiB each way at once, SHA-256 equal",
    () =>
      Effect.gen(function* () {
        const { server, file } = yield* pki
        const port = yield* freePort
        const sink = hashSink()
        // -quiet prints no ready line: the port is polled (no -naccept, so the probe does not use up the accept).
        const peer = yield* openssl(
          [
            "s_server",
            "-quiet",
            "-accept",
            `127.0.0.1:${port}`,
            "-cert",
            file("server-leaf.pem"),
            "-cert_chain",
            file("server.pem"),
            "-key",
            file("server.key")
          ],
          { onStdout: sink.onStdout }
        )
        yield* waitForPort(port)
        const connection = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: server.ca, servername: "localhost" })
        const ours = bulk()
        const theirs = bulk()
        const result = yield* exchange(connection, peer, sink, ours, theirs)
        assert.strictEqual(result.received.bytes, SIZE)
        assert.strictEqual(result.received.sha256, theirs.sha256)
        assert.strictEqual(result.printed, ours.sha256)
        yield* Effect.log(`s_server: 2 x 64 MiB in ${result.seconds.toFixed(2)} s`)
      }).pipe(Effect.scoped, Effect.timeout("40 seconds")),
    45_000
  )

  it.live(
    "our server and s_client -quiet: 64 MiB each way at once, SHA-256 equal",
    () =>
      Effect.gen(function* () {
        const { server, file } = yield* pki
        const us = yield* ourServer(server)
        const sink = hashSink()
        const peer = yield* openssl(
          [
            "s_client",
            "-quiet",
            "-connect",
            `127.0.0.1:${us.port}`,
            "-servername",
            "localhost",
            "-CAfile",
            file("ca.pem"),
            "-verify_return_error"
          ],
          { onStdout: sink.onStdout }
        )
        const connection = yield* us.accept
        const ours = bulk()
        const theirs = bulk()
        const result = yield* exchange(connection, peer, sink, ours, theirs)
        assert.strictEqual(result.received.bytes, SIZE)
        assert.strictEqual(result.received.sha256, theirs.sha256)
        assert.strictEqual(result.printed, ours.sha256)
        yield* Effect.log(`s_client: 2 x 64 MiB in ${result.seconds.toFixed(2)} s`)
      }).pipe(Effect.scoped, Effect.timeout("40 seconds")),
    45_000
  )
})

describe.skipIf(!hasGnutls)("interop bulk: GnuTLS", () => {
  it.live.skipIf(!hasNamespaces)(
    "our client and gnutls-serv --echo: 64 MiB up while the echo comes down, SHA-256 equal",
    () =>
      Effect.gen(function* () {
        const { server, file, dir } = yield* pki
        // gnutls-serv copies every byte it reads to stderr: dropped.
        const { port } = yield* namespacedServer(
          dir,
          `gnutls-serv --echo -p 4433 --x509certfile ${file("server.pem")} --x509keyfile ${file("server.key")}`,
          /Echo Server listening on IPv4/,
          4433
        )
        const connection = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: server.ca, servername: "localhost" })
        const ours = bulk()
        const started = Date.now()
        const writer = yield* Effect.forkChild(writePieces(connection, ours.pieces))
        const echoed = yield* readHashed(connection, SIZE)
        yield* Fiber.join(writer)
        assert.strictEqual(echoed.bytes, SIZE)
        assert.strictEqual(echoed.sha256, ours.sha256)
        yield* Effect.log(`gnutls-serv: 2 x 64 MiB in ${((Date.now() - started) / 1000).toFixed(2)} s`)
      }).pipe(Effect.scoped, Effect.timeout("40 seconds")),
    45_000
  )

  // gnutls-cli prints what it receives one byte per write(2) (stdout unbuffered,
  // fputc per byte): about 3 s per MiB here, so 64 MiB towards it would take
  // minutes. It gets 1 MiB from us; the 64 MiB go the other way.
  it.live(
    "our server and gnutls-cli: 64 MiB from gnutls-cli and 1 MiB to it at once, SHA-256 equal",
    () =>
      Effect.gen(function* () {
        const { server, file } = yield* pki
        const us = yield* ourServer(server)
        const sink = hashSink()
        const peer = yield* spawnPeer(
          "gnutls-cli",
          ["-p", String(us.port), "--x509cafile", file("ca.pem"), "--logfile", "/dev/null", "127.0.0.1"],
          { onStdout: sink.onStdout }
        )
        const connection = yield* us.accept
        const ours = payload(1, MiB)
        const theirs = bulk()
        const started = Date.now()
        const feeder = yield* Effect.forkChild(feed(peer, theirs.pieces))
        const writer = yield* Effect.forkChild(writePieces(connection, ours.pieces))
        const received = yield* readHashed(connection, SIZE)
        yield* Fiber.join(feeder)
        yield* Fiber.join(writer)
        assert.strictEqual(received.bytes, SIZE)
        assert.strictEqual(received.sha256, theirs.sha256)
        // gnutls-cli's status lines go to the log file; stdout is our data alone.
        assert.strictEqual(yield* sink.digest(MiB, "20 seconds"), ours.sha256)
        assert.strictEqual(sink.bytes(), MiB)
        yield* Effect.log(`gnutls-cli: 64 MiB + 1 MiB in ${((Date.now() - started) / 1000).toFixed(2)} s`)
      }).pipe(Effect.scoped, Effect.timeout("40 seconds")),
    45_000
  )
})
