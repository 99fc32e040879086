/**
 * A real peer asks for KeyUpdates after our close_notify went out, and then
 * closes: our read half must still end cleanly with every byte the peer sent,
 * on both paths and in both roles. Once close_notify is sent no answer is due
 * (RFC 8446 section 4.6.3: no record may follow it). Two requests, because
 * OpenSSL owes the answer to the first one and writes it when the next
 * handshake message arrives, during a read: on the duplex path that write
 * comes after the TLSSocket ended the duplex under it, where it would fail
 * the connection (ERR_STREAM_WRITE_AFTER_END) if the engine did not drop it.
 *
 * The order is made certain, not raced: the peer's stdout is paused, so once
 * its pipe is full it stops reading the socket before it reaches our
 * close_notify (s_server blocks in its write to stdout; s_client waits for
 * stdout to be writable and reads only its stdin meanwhile). The `K`s go to
 * the peer's stdin only after our `writer.end` completed (close_notify and FIN
 * handed to the socket), and the peer must show that it sent both KeyUpdates
 * before it read our close_notify.
 *
 * gnutls-cli is left out: it answers our close_notify by closing the TCP
 * connection without its own, which the duplex path rightly reports as
 * truncation.
 */
import { assert, describe } from "@effect/vitest"
import { CloseOutcome } from "@effect-tls/core/CloseOutcome"
import { Peer } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import {
  clientOn,
  digitLines,
  hasOpenssl,
  payloadLines,
  peerTest,
  readHashed,
  serverOn,
  serverPem,
  sha256,
  writePieces
} from "./interop-support.ts"

const PIECE = 16 * 1024
/**
 * What we send before our close_notify: far more than the peer's stdout pipe
 * holds (64 KiB on Linux), so the peer stops reading with records of ours and
 * our close_notify still unread, and little enough that the rest fits in the
 * sockets' buffers (our `writer.end` completes only once it was handed on).
 */
const OURS = 16 * PIECE

type Path = "native" | "duplex"
const PATHS: ReadonlyArray<Path> = ["native", "duplex"]

/** The native path cannot tell the peer's close_notify from its FIN (it reports `Ended`). */
const cleanOutcome = (path: Path) =>
  CloseOutcome.Clean({ peerEnded: true, closeNotifyReceived: path === "duplex", closeNotifySent: true })

/** Our data, in whole records of whole lines (the peer prints its reports between lines). */
const ourData = () => {
  const pieces = Array.from({ length: OURS / PIECE }, () => digitLines(PIECE))
  return { pieces, sha256: sha256(Buffer.concat(pieces)) }
}

describe.skipIf(!hasOpenssl)("a KeyUpdate request after our close_notify (needs openssl and stdbuf)", () => {
  for (const path of PATHS) {
    peerTest(
      `${path} client: after our close_notify, s_server sends data and two KeyUpdate requests; we read all of it and end cleanly`,
      20,
      Effect.gen(function* () {
        const { server, files } = yield* serverPem
        const peer = yield* Peer.opensslServer({ files, args: ["-tls1_3"] })
        const connection = yield* clientOn(path, peer.port, server.ca)
        // Once its stdout pipe is full, the peer stops reading the socket.
        yield* peer.pauseStdout
        const ours = ourData()
        yield* writePieces(connection, ours.pieces)
        yield* connection.writer.end
        // s_server reads its stdin before the socket in each round, 16 KiB a
        // read (its buffer): one read of data, then two reads that each
        // start with K (the rest of a command's read is dropped).
        const theirs = digitLines(PIECE)
        yield* peer.write(Buffer.concat([theirs, command("K"), command("K")]))
        const reader = yield* Effect.forkChild(readHashed(connection, theirs.length + 1))
        yield* peer.resumeStdout
        const read = yield* Fiber.join(reader)
        assert.isTrue(read.ended, "our read half ended")
        assert.strictEqual(read.bytes, theirs.length)
        assert.strictEqual(read.sha256, sha256(theirs))
        assert.deepStrictEqual(yield* connection.closed, cleanOutcome(path))
        yield* peer.waitFor(/CONNECTION CLOSED/)
        const output = peer.stdoutText()
        // OpenSSL 3.0 prints the result of the handshake step that sent the KeyUpdate; later versions KEYUPDATE.
        const beforeDone = output.slice(0, output.indexOf("DONE"))
        assert.strictEqual(
          (beforeDone.match(/KEYUPDATE|SSL_do_handshake -> 1/g) ?? []).length,
          2,
          "s_server sent both KeyUpdates before it read our close_notify"
        )
        assert.strictEqual(sha256(payloadLines(output)), ours.sha256)
      })
    )

    peerTest(
      `${path} server: after our close_notify, s_client sends two KeyUpdate requests and then data; we read all of it and end cleanly`,
      20,
      Effect.gen(function* () {
        const { server, files } = yield* serverPem
        const us = yield* serverOn(path, server)
        const peer = yield* Peer.opensslClient({ port: us.port, ca: files.ca, servername: "localhost" })
        const connection = yield* us.accept
        yield* peer.waitFor(/Verify return code: 0/)
        // Once its stdout pipe is full, the peer stops reading the socket.
        yield* peer.pauseStdout
        const ours = ourData()
        yield* writePieces(connection, ours.pieces)
        yield* connection.writer.end
        // s_client reads its stdin while it waits for stdout, never the socket;
        // had it read our close_notify, it would have closed instead of
        // printing KEYUPDATE.
        const from = peer.mark()
        yield* peer.write("K\n")
        yield* peer.waitFor(/KEYUPDATE/, { from })
        const from2 = peer.mark()
        yield* peer.write("K\n")
        yield* peer.waitFor(/KEYUPDATE/, { from: from2 })
        const theirs = Buffer.concat(Array.from({ length: 16 }, () => digitLines(PIECE)))
        const reader = yield* Effect.forkChild(readHashed(connection, theirs.length))
        yield* peer.write(theirs)
        // Every byte of theirs arrives before s_client reads our close_notify.
        const read = yield* Fiber.join(reader)
        assert.strictEqual(read.bytes, theirs.length)
        assert.strictEqual(read.sha256, sha256(theirs))
        yield* peer.resumeStdout
        // Then s_client reads ours and our close_notify, and answers with its own.
        assert.isTrue(Option.isNone(yield* connection.reader.read), "our read half ended")
        assert.deepStrictEqual(yield* connection.closed, cleanOutcome(path))
        yield* peer.waitFor(/^closed$/m)
        assert.strictEqual(sha256(payloadLines(peer.stdoutText())), ours.sha256)
      })
    )
  }
})

/** One 16 KiB read of s_server's stdin that is the command `letter`. */
const command = (letter: string): Buffer => {
  const read = Buffer.alloc(PIECE, "x")
  read.write(`${letter}\n`)
  return read
}
