/**
 * Bad input after the handshake (issue 8, item 3), on both paths: a relay
 * between client and server corrupts a record or injects one at a chosen
 * point, and a raw TLS 1.2 peer asks for renegotiation. The side that receives
 * the bad input must fail with a typed error, close its socket (Node leaves
 * it open on its own after a post-handshake error), and deliver nothing more.
 */
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { Relay } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { conclude, onBothPaths } from "./helpers.ts"
import {
  activeResources,
  captureClientHello,
  type Fixture,
  fixture,
  observedServer,
  record
} from "./reliability-support.ts"

/** Bound on the victim closing its socket after the bad record arrived. */
const CLOSE_BOUND_MS = 1_000

type Tamper = "corrupt" | "inject-handshake" | "inject-plaintext"

const describeError = (error: TlsError) =>
  `${error._tag}/${error.reason._tag}${"code" in error.reason && error.reason.code !== undefined ? ` ${error.reason.code}` : ""}`

const failureOf = <A>(effect: Effect.Effect<A, TlsError>) =>
  effect.pipe(
    Effect.timeoutOption(CLOSE_BOUND_MS),
    Effect.map((done) => (Option.isNone(done) ? "no end within the bound" : `data: ${String(done.value)}`)),
    Effect.catch((error: TlsError) => Effect.succeed(describeError(error)))
  )

/** A handler that echoes at most 100 chunks, recording each (as text) in `into`, until the end. */
const recordingEcho = (into: Array<string>) => (connection: TlsConnection.TlsConnection) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) return
      into.push(Buffer.from(chunk.value).toString())
      yield* connection.writer.write(chunk.value)
    }
  })

/**
 * One case: the client sends `hello` and gets its echo (the connection is up),
 * then the relay tampers with the next application record in `direction`.
 * Returns what each side saw.
 */
const tamperCase = (
  certs: Fixture,
  path: TlsOptions.Path,
  direction: Relay.Direction,
  tamper: Tamper,
  hello: Uint8Array
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const serverReceived: Array<string> = []
      const observed = yield* observedServer(
        { ...certs.server, path, connection: { closeTimeout: "200 millis" } },
        recordingEcho(serverReceived)
      )
      const armed: { tamper: Tamper | undefined } = { tamper: undefined }
      const relay = yield* Relay.make(observed.port, {
        onRecord: (through, _index, rec) => {
          // Only application-data records (0x17): the Finished and the tickets passed long before arming.
          if (armed.tamper === undefined || through !== direction || rec[0] !== 0x17) return rec
          const what = armed.tamper
          armed.tamper = undefined
          switch (what) {
            case "corrupt": {
              const copy = Buffer.from(rec)
              const at = 5 + Math.floor((copy.length - 5) / 2)
              copy[at] = (copy[at] ?? 0) ^ 0x5a
              return copy
            }
            case "inject-handshake":
              // A plaintext ClientHello where only encrypted records may come.
              return Buffer.concat([Buffer.from(hello), rec])
            case "inject-plaintext":
              return Buffer.concat([record(0x17, Buffer.from("plaintext where a sealed record belongs")), rec])
          }
        }
      })
      const client = yield* NodeTls.connect({ host: "127.0.0.1", port: relay.port, ...certs.client, path })
      yield* client.writer.write("hello-1")
      assert.strictEqual(Buffer.from(yield* client.reader.readExactly(7)).toString(), "hello-1")
      armed.tamper = tamper
      yield* client.writer.write("after-1")
      if (direction === "toServer") {
        const error = yield* observed.nextFailure(CLOSE_BOUND_MS)
        const closedIn = yield* relay.awaitClosed("upstream", CLOSE_BOUND_MS)
        // The server told the client (alert) or closed: the client's read ends too, with an error.
        const clientRead = yield* failureOf(client.reader.read)
        // Written after the failure: must never reach the server's handler.
        yield* client.writer.write("after-2").pipe(Effect.ignore)
        return {
          victim: Option.match(error, { onNone: () => "no error logged", onSome: describeError }),
          closedIn,
          delivered: serverReceived.join("|"),
          peer: clientRead,
          again: "n/a"
        }
      }
      // toClient: the echo of "after-1" is tampered with on its way to the client.
      const victim = yield* failureOf(client.reader.read)
      const again = yield* failureOf(client.reader.read)
      const closedIn = yield* relay.awaitClosed("downstream", CLOSE_BOUND_MS)
      return { victim, closedIn, delivered: "n/a", peer: "n/a", again }
    })
  )

/** A raw TLS 1.2 client that exchanges one message, then asks to renegotiate. */
const renegotiation = (certs: Fixture, path: TlsOptions.Path) =>
  Effect.scoped(
    Effect.gen(function* () {
      const delivered: Array<string> = []
      const observed = yield* observedServer(
        { ...certs.server, path, maxVersion: "TLSv1.2", connection: { closeTimeout: "200 millis" } },
        recordingEcho(delivered)
      )
      const peer = yield* Effect.callback<{ readonly renegotiated: string; readonly closedAfterMs: number }>(
        (resume) => {
          const socket = tls.connect({
            host: "127.0.0.1",
            port: observed.port,
            ca: certs.raw.ca,
            servername: "localhost",
            maxVersion: "TLSv1.2"
          })
          let renegotiated = "no answer"
          let asked = 0
          socket.on("error", (error: Error & { code?: string }) => {
            renegotiated = renegotiated === "no answer" ? `error ${error.code}` : renegotiated
          })
          socket.once("data", () => {
            asked = Date.now()
            const accepted = socket.renegotiate({ rejectUnauthorized: false }, (error) => {
              renegotiated = error === null ? "completed" : `refused: ${(error as Error & { code?: string }).code}`
            })
            if (!accepted) renegotiated = "not sent"
            // Data after the request: must not be delivered once the server refused.
            socket.write("after")
          })
          // The server's FIN ('end') is the sign it closed: a Node TLS client in the middle of its
          // renegotiation does not end its own side, so 'close' would wait for our destroy.
          const done = () => {
            const closedAfterMs = asked === 0 ? -1 : Date.now() - asked
            socket.destroy()
            resume(Effect.succeed({ renegotiated, closedAfterMs }))
          }
          socket.once("end", done)
          socket.once("close", done)
          socket.on("secureConnect", () => socket.write("hello"))
          return Effect.sync(() => socket.destroy())
        }
      ).pipe(Effect.timeoutOption(3_000))
      const error = yield* observed.nextFailure(CLOSE_BOUND_MS)
      return {
        victim: Option.match(error, { onNone: () => "no error logged", onSome: describeError }),
        peer: Option.match(peer, { onNone: () => "the socket stayed open", onSome: (p) => `${p.renegotiated}` }),
        closedAfterMs: Option.match(peer, { onNone: () => -1, onSome: (p) => p.closedAfterMs }),
        delivered: delivered.join("|")
      }
    })
  )

/**
 * What the victim must report, by tamper (a prefix of `tag/reason code`).
 * A plaintext handshake record after a TLS 1.3 handshake is OpenSSL's
 * `ERR_SSL_BAD_RECORD_TYPE` (it answers with an unexpected_message alert),
 * mapped to `UnexpectedMessage`.
 */
const expectedNow: Record<Tamper, string> = {
  corrupt: "TlsProtocolError/BadRecordMac",
  "inject-handshake": "TlsProtocolError/UnexpectedMessage ERR_SSL_BAD_RECORD_TYPE",
  "inject-plaintext": "TlsProtocolError/BadRecordMac"
}

const suite = (path: TlsOptions.Path) =>
  Effect.gen(function* () {
    const resources = activeResources()
    const certs = yield* fixture
    const hello = yield* captureClientHello
    const problems: Array<string> = []
    const report: Array<string> = []
    const expected = expectedNow
    for (const direction of ["toServer", "toClient"] as const) {
      for (const tamper of ["corrupt", "inject-handshake", "inject-plaintext"] as const) {
        const name = `${path} ${tamper} ${direction}`
        const r = yield* tamperCase(certs, path, direction, tamper, hello)
        report.push(`${name}: ${JSON.stringify(r)}`)
        if (!r.victim.startsWith(expected[tamper]))
          problems.push(`${name}: victim saw ${r.victim}, expected ${expected[tamper]}`)
        if (Option.isNone(r.closedIn)) problems.push(`${name}: the victim's socket stayed open`)
        if (direction === "toServer") {
          if (r.delivered !== "hello-1") problems.push(`${name}: the server's handler got ${r.delivered}`)
          if (!r.peer.startsWith("Tls")) problems.push(`${name}: the client's read ended with ${r.peer}`)
        } else if (r.again !== r.victim) {
          problems.push(`${name}: a second read gave ${r.again}, not the same error`)
        }
      }
    }
    const reneg = yield* renegotiation(certs, path)
    report.push(`${path} TLS 1.2 renegotiation: ${JSON.stringify(reneg)}`)
    if (!reneg.victim.startsWith("TlsProtocolError/RenegotiationRefused")) {
      problems.push(`renegotiation: server saw ${reneg.victim}`)
    }
    if (reneg.closedAfterMs < 0 || reneg.closedAfterMs > CLOSE_BOUND_MS) {
      problems.push(`renegotiation: the peer's socket closed after ${reneg.closedAfterMs} ms`)
    }
    if (reneg.delivered !== "hello") problems.push(`renegotiation: the handler got ${reneg.delivered}`)
    yield* conclude(resources, problems, report)
  })

describe("reliability: bad input after the handshake", () => {
  onBothPaths("corrupted, injected handshake and plaintext records, renegotiation", suite, 30_000)
})

describe("reliability: bad input after the handshake, classification", () => {
  // OpenSSL's ERR_SSL_BAD_RECORD_TYPE (a record of a type not allowed here: a
  // plaintext handshake record after a TLS 1.3 handshake; OpenSSL sends
  // unexpected_message for it) is classified `UnexpectedMessage`.
  it(
    "an injected plaintext handshake record is classified UnexpectedMessage",
    () =>
      Effect.gen(function* () {
        const certs = yield* fixture
        const hello = yield* captureClientHello
        const r = yield* tamperCase(certs, "native", "toServer", "inject-handshake", hello)
        assert.match(r.victim, /^TlsProtocolError\/UnexpectedMessage/)
      }).pipe(Effect.runPromise),
    10_000
  )
})
