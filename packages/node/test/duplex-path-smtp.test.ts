/**
 * The SMTP STARTTLS examples against each other and against real peers:
 * `swaks --tls` and `openssl s_client -starttls smtp` (both verify the
 * server's certificate against the test CA).
 */
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Peer, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Client from "../examples/smtp-starttls-client.ts"
import * as Server from "../examples/smtp-starttls-server.ts"
import { credentials } from "./engine-path-support.ts"

/** Runs a program to its end with `input` on stdin, within 15 seconds. */
const run = (file: string, args: ReadonlyArray<string>, input = "") =>
  Effect.map(Peer.run(file, args, { input, timeout: "15 seconds" }), (done) => ({
    code: done.code,
    stdout: done.stdoutText,
    stderr: done.stderr
  }))

const fixture = Effect.gen(function* () {
  const creds = yield* credentials
  const received: Array<Server.Received> = []
  const port = yield* Server.serve(0, creds.server, (message) => received.push(message))
  const caFile = path.join(yield* TempFiles.directory({ "ca.pem": creds.client.ca }), "ca.pem")
  return { port, received, caFile, client: creds.client }
})

const haveSwaks = Peer.available("swaks")
const haveOpenssl = Peer.available("openssl")

describe("SMTP STARTTLS example", () => {
  it.live("the example client sends a message to the example server over TLS", () =>
    Effect.gen(function* () {
      const { port, received, client } = yield* fixture
      const session = yield* Client.send({
        port,
        tls: client,
        from: "a@example.com",
        to: "b@example.com",
        body: "hi\n.dot"
      })
      assert.strictEqual(session.protocol, "TLSv1.3")
      assert.deepStrictEqual(received, [
        { from: "<a@example.com>", to: ["<b@example.com>"], body: "hi\r\n.dot", overTls: true }
      ])
    }).pipe(Effect.scoped)
  )

  it.live.skipIf(!haveSwaks)("swaks --tls delivers a message, verifying the certificate (needs swaks)", () =>
    Effect.gen(function* () {
      const { port, received, caFile } = yield* fixture
      const result = yield* run("swaks", [
        ...["--server", "127.0.0.1", "--port", String(port), "--from", "alice@example.com", "--to", "bob@example.com"],
        ...["--tls", "--tls-verify", "--tls-ca-path", caFile, "--tls-sni", "localhost", "--body", "from swaks"]
      ])
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "220 2.0.0 Ready to start TLS")
      assert.strictEqual(received.length, 1)
      assert.isTrue(received[0]?.overTls)
      assert.include(received[0]?.body ?? "", "from swaks")
    }).pipe(Effect.scoped)
  )

  it.live.skipIf(!haveOpenssl)("openssl s_client -starttls smtp verifies and sends a message (needs openssl)", () =>
    Effect.gen(function* () {
      const { port, received, caFile } = yield* fixture
      const result = yield* run(
        "openssl",
        [
          ...["s_client", "-starttls", "smtp", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", "-crlf"],
          ...["-CAfile", caFile, "-verify_return_error", "-verify_hostname", "localhost", "-ign_eof"]
        ],
        "EHLO openssl\nMAIL FROM:<o@example.com>\nRCPT TO:<p@example.com>\nDATA\nfrom openssl\n.\nQUIT\n"
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.include(result.stdout, "Verify return code: 0 (ok)")
      assert.include(result.stdout, "221 2.0.0 Bye")
      assert.deepStrictEqual(received, [
        { from: "<o@example.com>", to: ["<p@example.com>"], body: "from openssl", overTls: true }
      ])
    }).pipe(Effect.scoped)
  )

  it.live("a client that pipelines a command after STARTTLS is cut off before any TLS byte", () =>
    Effect.gen(function* () {
      const { port, received } = yield* fixture
      const transcript = yield* Effect.callback<string>((resume) => {
        const socket = net.connect({ host: "127.0.0.1", port })
        let text = ""
        let sent = false
        socket.on("data", (data) => {
          text += data.toString("latin1")
          if (!sent) {
            sent = true
            // One write: STARTTLS and an injected command arrive together.
            socket.write("EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@example.com>\r\n")
          }
        })
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(text)))
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("5 seconds"))
      assert.include(transcript, "220 2.0.0 Ready to start TLS")
      // Nothing after the 220: no TLS record (0x16), no answer to the injected command.
      assert.isTrue(transcript.endsWith("220 2.0.0 Ready to start TLS\r\n"), JSON.stringify(transcript))
      assert.deepStrictEqual(received, [])
    }).pipe(Effect.scoped)
  )
})
