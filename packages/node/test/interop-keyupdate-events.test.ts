/**
 * KeyUpdate events on Node's engines, against OpenSSL's command-line tools
 * issuing them (`k`: an update that asks nothing, `K`: one that asks for an
 * answer). Node reports no KeyUpdate; the engines see one as the key log
 * line of the new traffic secret (`*_TRAFFIC_SECRET_N`), so each update
 * received is an event, and so is the answer OpenSSL sends for a `K` (with
 * our next write). Whether a received update asked for an answer is not
 * visible there: its `requested` is `undefined`; an answer never asks.
 *
 * Each command reaches the peer alone (s_server and s_client drop the rest
 * of a read that holds one): the test waits until the peer shows the update
 * went out (`-msg`, or s_client's `KEYUPDATE`) before it writes again.
 */
import { assert, describe } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsEvent } from "@effect-tls/core/TlsEvent"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { Peer } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { clientOn, hasOpenssl, peerTest, serverOn, serverPem } from "./interop-support.ts"

const PATHS: ReadonlyArray<TlsOptions.Path> = ["native", "duplex"]

type KeyUpdate = Extract<TlsEvent, { readonly _tag: "KeyUpdate" }>

/** The connection's KeyUpdate events, as they come, followed in a fiber of the scope. */
const keyUpdates = (connection: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    const updates = yield* Queue.unbounded<KeyUpdate>()
    yield* Effect.forkScoped(
      Stream.runForEach(connection.events, (event) =>
        event._tag === "KeyUpdate" ? Queue.offer(updates, event) : Effect.void
      )
    )
    /** The next KeyUpdate event, within 5 seconds. */
    const next = Queue.take(updates).pipe(Effect.timeout("5 seconds"))
    return { next, pending: Queue.size(updates) }
  })

const asPair = (event: KeyUpdate) => [event.direction, event.requested] as const

/** Reads until `text` arrived in full (at most 16 reads). */
const readText = (connection: TlsConnection.TlsConnection, text: string) =>
  Effect.gen(function* () {
    let got = ""
    for (let i = 0; i < 16 && got.length < text.length; i++) {
      got += new TextDecoder().decode(yield* connection.reader.readExactly(1))
    }
    assert.strictEqual(got, text)
  }).pipe(Effect.timeout("5 seconds"))

describe.skipIf(!hasOpenssl)("KeyUpdate events from real peers (needs openssl and stdbuf)", () => {
  for (const path of PATHS) {
    peerTest(
      `${path} client: s_server's k and K are each a received KeyUpdate, our answer to K a sent one`,
      20,
      Effect.gen(function* () {
        const { server, files } = yield* serverPem
        const peer = yield* Peer.opensslServer({ files, args: ["-tls1_3", "-msg"] })
        const connection = yield* clientOn(path, peer.port, server.ca)
        const updates = yield* keyUpdates(connection)
        const sentUpdate = /^>>> TLS 1\.3, Handshake \[length \w+\], KeyUpdate/m
        const receivedUpdate = /^<<< TLS 1\.3, Handshake \[length \w+\], KeyUpdate/m

        /** s_server sends a KeyUpdate (`command`), then `line`: we read the line and see the update received. */
        const updateThen = (command: "k" | "K", line: string) =>
          Effect.gen(function* () {
            const from = peer.mark("stdout")
            yield* peer.write(`${command}\n`)
            yield* peer.waitFor(sentUpdate, { stream: "stdout", from })
            yield* peer.write(`${line}\n`)
            yield* readText(connection, `${line}\n`)
            assert.deepStrictEqual(asPair(yield* updates.next), ["received", undefined])
          })

        // k: an update that asks for no answer. It arrives before the data that follows it.
        yield* updateThen("k", "one")
        // K: an update that asks for one; OpenSSL answers it with our next write.
        yield* updateThen("K", "two")
        const from = peer.mark("stdout")
        yield* connection.writer.write("ours\n")
        yield* peer.waitFor(/^ours$/m, { stream: "stdout", from })
        assert.match(peer.stdoutText().slice(from), receivedUpdate, "s_server got our answer")
        assert.deepStrictEqual(asPair(yield* updates.next), ["sent", false])
        assert.strictEqual(yield* updates.pending, 0, "one event per update, nothing else")
      })
    )

    peerTest(
      `${path} server: s_client's k and K are each a received KeyUpdate, our answer to K a sent one`,
      20,
      Effect.gen(function* () {
        const { server, files } = yield* serverPem
        const us = yield* serverOn(path, server)
        const peer = yield* Peer.opensslClient({ port: us.port, ca: files.ca, servername: "localhost" })
        const connection = yield* us.accept
        const updates = yield* keyUpdates(connection)
        yield* peer.waitFor(/Verify return code: 0/)

        let from = peer.mark()
        yield* peer.write("k\n")
        yield* peer.waitFor(/KEYUPDATE/, { from })
        yield* peer.write("one\n")
        yield* readText(connection, "one\n")
        assert.deepStrictEqual(asPair(yield* updates.next), ["received", undefined])

        from = peer.mark()
        yield* peer.write("K\n")
        yield* peer.waitFor(/KEYUPDATE/, { from })
        yield* peer.write("two\n")
        yield* readText(connection, "two\n")
        assert.deepStrictEqual(asPair(yield* updates.next), ["received", undefined])
        from = peer.mark("stdout")
        yield* connection.writer.write("ours\n")
        yield* peer.waitFor(/^ours$/m, { stream: "stdout", from })
        assert.deepStrictEqual(asPair(yield* updates.next), ["sent", false])
        assert.strictEqual(yield* updates.pending, 0, "one event per update, nothing else")
      })
    )
  }
})
