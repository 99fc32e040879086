/**
 * 64 MiB each way between our client or server and a real peer, both
 * directions at once, checked with SHA-256 (slow; own file). The peers move
 * bulk data through their stdin and stdout: `s_server`/`s_client` in `-quiet`
 * mode, `gnutls-serv --echo` (our data comes back), `gnutls-cli`.
 */
import { assert, describe } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import { Loopback, Peer } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import {
  hasGnutls,
  hashSink,
  hasNamespaces,
  hasOpenssl,
  ourClient,
  ourServer,
  payload,
  peerTest,
  readHashed,
  serverPem,
  writePieces
} from "./interop-support.ts"

const MiB = 1024 * 1024
const SIZE = 64 * MiB
/** Our writes and the peer's stdin writes. */
const PIECE = 64 * 1024

/** Splits a payload's pieces into stdin-sized writes. */
const feed = (peer: Peer.Peer, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(
    pieces,
    (piece) =>
      Effect.forEach(
        Array.from({ length: Math.ceil(piece.length / PIECE) }, (_, i) => piece.subarray(i * PIECE, (i + 1) * PIECE)),
        (slice) => peer.write(slice),
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
  peer: Peer.Peer,
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

/** A peer client started against our server, what it prints on stdout hashed: the peer, our connection, the hash. */
const againstUs = (
  start: (
    port: number,
    ca: string,
    stdout: (chunk: Buffer) => void
  ) => Effect.Effect<Peer.Peer, Peer.PeerError, Scope.Scope>
) =>
  Effect.gen(function* () {
    const { server, files } = yield* serverPem
    const us = yield* ourServer(server)
    const sink = hashSink()
    const peer = yield* start(us.port, files.ca, sink.onStdout)
    return { peer, sink, connection: yield* us.accept }
  })

/** 64 pieces of 1 MiB: the peer's stdin and our writes. */
const bulk = () => payload(SIZE / MiB, MiB)

/** 64 MiB each way at once through `peer`'s stdin and stdout: each side gets exactly what the other sent. */
const bothWays = (
  name: string,
  connection: TlsConnection.TlsConnection,
  peer: Peer.Peer,
  sink: ReturnType<typeof hashSink>
) =>
  Effect.gen(function* () {
    const ours = bulk()
    const theirs = bulk()
    const result = yield* exchange(connection, peer, sink, ours, theirs)
    assert.strictEqual(result.received.bytes, SIZE)
    assert.strictEqual(result.received.sha256, theirs.sha256)
    assert.strictEqual(result.printed, ours.sha256)
    yield* Effect.log(`${name}: 2 x 64 MiB in ${result.seconds.toFixed(2)} s`)
  })

describe.skipIf(!hasOpenssl)("interop bulk: openssl (needs openssl, stdbuf)", () => {
  peerTest(
    "our client and s_server -quiet: 64 MiB each way at once, SHA-256 equal",
    40,
    Effect.gen(function* () {
      const { server, files } = yield* serverPem
      const port = yield* Loopback.freePort
      const sink = hashSink()
      // -quiet prints no ready line: the port is polled (no -naccept, so the probe does not use up the accept).
      const peer = yield* Peer.openssl(
        [
          "s_server",
          "-quiet",
          "-accept",
          `127.0.0.1:${port}`,
          "-cert",
          files.cert,
          "-cert_chain",
          files.chain,
          "-key",
          files.key
        ],
        { stdout: sink.onStdout }
      )
      yield* Peer.waitForPort(port)
      yield* bothWays("s_server", yield* ourClient(port, server.ca), peer, sink)
    })
  )

  peerTest(
    "our server and s_client -quiet: 64 MiB each way at once, SHA-256 equal",
    40,
    Effect.gen(function* () {
      const { peer, connection, sink } = yield* againstUs((port, ca, stdout) =>
        Peer.opensslClient({ port, ca, servername: "localhost", args: ["-quiet"], stdout })
      )
      yield* bothWays("s_client", connection, peer, sink)
    })
  )
})

describe.skipIf(!hasGnutls)("interop bulk: GnuTLS (needs gnutls-bin)", () => {
  describe.skipIf(!hasNamespaces)(
    "gnutls-serv in its own network namespace (needs unshare, nsenter, ip, socat)",
    () => {
      peerTest(
        "our client and gnutls-serv --echo: 64 MiB up while the echo comes down, SHA-256 equal",
        40,
        Effect.gen(function* () {
          const { server, files } = yield* serverPem
          const peer = yield* Peer.gnutlsEchoServer({ files })
          const connection = yield* ourClient(yield* peer.bridge(peer.innerPort), server.ca)
          const ours = bulk()
          const started = Date.now()
          const writer = yield* Effect.forkChild(writePieces(connection, ours.pieces))
          const echoed = yield* readHashed(connection, SIZE)
          yield* Fiber.join(writer)
          assert.strictEqual(echoed.bytes, SIZE)
          assert.strictEqual(echoed.sha256, ours.sha256)
          yield* Effect.log(`gnutls-serv: 2 x 64 MiB in ${((Date.now() - started) / 1000).toFixed(2)} s`)
        })
      )
    }
  )

  // gnutls-cli prints what it receives one byte per write(2) (stdout unbuffered,
  // fputc per byte): about 3 s per MiB here, so 64 MiB towards it would take
  // minutes. It gets 1 MiB from us; the 64 MiB go the other way.
  peerTest(
    "our server and gnutls-cli: 64 MiB from gnutls-cli and 1 MiB to it at once, SHA-256 equal",
    40,
    Effect.gen(function* () {
      // Its status lines go to the log file: stdout is our data alone.
      const { peer, connection, sink } = yield* againstUs((port, ca, stdout) =>
        Peer.gnutlsClient({ port, ca, args: ["--logfile", "/dev/null"], stdout })
      )
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
      assert.strictEqual(yield* sink.digest(MiB, "20 seconds"), ours.sha256)
      assert.strictEqual(sink.bytes(), MiB)
      yield* Effect.log(`gnutls-cli: 64 MiB + 1 MiB in ${((Date.now() - started) / 1000).toFixed(2)} s`)
    })
  )
})
