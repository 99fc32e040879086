/**
 * Runs every runnable example of the guide (docs/examples) against loopback
 * servers or the in-memory pair, and checks what the guide says it shows.
 */
import { assert, describe, it } from "@effect/vitest"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Backpressure from "../../../docs/examples/backpressure.ts"
import * as ChannelBinding from "../../../docs/examples/channel-binding.ts"
import * as Errors from "../../../docs/examples/errors.ts"
import * as Handshake from "../../../docs/examples/handshake.ts"
import * as Interruption from "../../../docs/examples/interruption.ts"
import * as Lifetime from "../../../docs/examples/lifetime.ts"
import * as Observability from "../../../docs/examples/observability.ts"
import * as Quickstart from "../../../docs/examples/quickstart.ts"
import * as Reading from "../../../docs/examples/reading.ts"
import * as Server from "../../../docs/examples/server.ts"
import * as Starttls from "../../../docs/examples/starttls.ts"
import * as Testing from "../../../docs/examples/testing.ts"
import * as Transports from "../../../docs/examples/transports.ts"

/** Every example is bounded: a hang fails the test instead of the suite's timeout. */
const bounded = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.timeout("20 seconds"))

describe("guide examples", () => {
  it.live("quickstart: the README's client gets its line back from the README's server", () =>
    Effect.gen(function* () {
      const reply = yield* bounded(
        Effect.scoped(
          Effect.gen(function* () {
            const pki = yield* CertificateAuthority.make()
            const cert = yield* pki.issueServer()
            const server = yield* Quickstart.echoServer({ cert: cert.chain, key: cert.redactedKey })
            return yield* Quickstart.hello(server.address.port, pki.root)
          })
        )
      )
      assert.match(reply, /^hello, TLS \(TLSv1\.3, /)
    })
  )

  it.live("lifetime: both halves in separate fibers, each side reads the other's lines, both end cleanly", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Lifetime.program)
      assert.deepStrictEqual(result.fromServer, ["hello", "bye"])
      assert.deepStrictEqual(result.fromClient, ["ping", "pong?"])
      for (const outcome of result.outcomes) assert.match(outcome, /^clean /)
    })
  )

  it.live("reading: a 100,000-byte frame, a CRLF line and split lines across writes", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Reading.program)
      assert.deepStrictEqual(result, { frameLength: 100_000, line: "OK ready", rest: ["one", "two", "three"] })
    })
  )

  it.live("backpressure: a writer to a peer that does not read stalls; the peer buffers at most its limit", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Backpressure.program)
      assert.isAbove(result.accepted, 0)
      // Bounded: the accepted bytes sit in kernel buffers, not in the library's.
      assert.isAtMost(result.serverReadBuffered, result.limit)
      assert.isBelow(result.accepted, 64 * 1024 * 1024)
    })
  )

  it.live("interruption: a timed-out read loses nothing; a request under a deadline gets its answer", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Interruption.program)
      assert.deepStrictEqual(result, { timedOut: true, late: "late\n", answer: "re: hello" })
    })
  )

  it.live("server: reload serves the new certificate to new handshakes", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Server.program)
      assert.strictEqual(result.first.greeting, "hello, first\n")
      assert.strictEqual(result.first.subject, "CN=before reload")
      assert.strictEqual(result.second.subject, "CN=after reload")
    })
  )

  it.live("handshake: mutual TLS names the client; SNI picks the certificate; ALPN; the second visit resumes", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Handshake.program)
      assert.strictEqual(result.mtls, "hello, CN=alice")
      assert.deepStrictEqual(result.mtlsAgain, { line: "hello, CN=alice", resumed: true })
      assert.strictEqual(result.first.line, "http/1.1 to localhost")
      assert.isFalse(result.first.resumed)
      assert.isTrue(result.again.resumed)
      assert.strictEqual(result.other.certificate, "CN=api")
      assert.strictEqual(result.other.line, "http/1.1 to api.localhost")
    })
  )

  it.live("STARTTLS: an honest upgrade succeeds; pipelined plaintext fails with PlaintextInjection", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Starttls.program)
      assert.deepStrictEqual(result, { protocol: "TLSv1.3", refused: "PlaintextInjection" })
    })
  )

  it.live("transports: TLS over an Effect Socket and over the memory pair", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Transports.program)
      assert.deepStrictEqual(result, { echoed: "over an Effect Socket", received: "in memory" })
    })
  )

  it.live("channel binding: SCRAM-SHA-256-PLUS logs in; a proof bound to another session is refused", () =>
    Effect.gen(function* () {
      const result = yield* bounded(ChannelBinding.program)
      assert.deepStrictEqual(result, { verified: true, refused: "ChannelBindingMismatch" })
    })
  )

  it.live("observability: the handshake event is replayed, bytes are counted, tls_* metrics are recorded", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Observability.program)
      assert.strictEqual(result.first, "HandshakeDone")
      assert.strictEqual(result.bytesWritten, 4)
      const names = new Set(result.metrics.map((line) => line.slice(0, line.indexOf("{"))))
      for (const name of ["tls_handshakes_total", "tls_handshake_duration", "tls_bytes_total"]) {
        assert.isTrue(names.has(name), `${name} in ${[...names].join(", ")}`)
      }
    })
  )

  it.live("errors: an untrusted certificate is a TlsHandshakeError UnknownCa, caught by tag", () =>
    Effect.gen(function* () {
      const result = yield* bounded(Errors.program)
      assert.strictEqual(result.untrusted, "untrusted")
      assert.match(result.advice, /not signed by a CA we trust/)
    })
  )

  it.live(
    "testing: byte-by-byte delivery works, a cut wire is truncation, an interrupted reader loses nothing, frames survive adversarial schedules",
    () =>
      Effect.gen(function* () {
        const result = yield* bounded(Testing.program)
        assert.deepStrictEqual(result, {
          byteByByte: "5",
          cutShort: "TlsTruncationError",
          interruptedReader: "still here",
          framesUnderAdversity: undefined
        })
      })
  )
})
