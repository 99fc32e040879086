/**
 * The SMTP STARTTLS examples against each other and against real peers:
 * `swaks --tls` and `openssl s_client -starttls smtp` (both verify the
 * server's certificate against the test CA).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Client from "../examples/smtp-starttls-client.ts"
import * as Server from "../examples/smtp-starttls-server.ts"
import { credentials } from "./engine-path-support.ts"

/** Runs a program with `input` on stdin; killed after 15 s or on interruption. */
const run = (file: string, args: ReadonlyArray<string>, input: string) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(file, [...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin?.end(input)
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const fixture = Effect.gen(function* () {
  const creds = yield* credentials
  const received: Array<Server.Received> = []
  const port = yield* Server.serve(0, creds.server, (message) => received.push(message))
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-tls-smtp-"))),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
  )
  const caFile = path.join(dir, "ca.pem")
  yield* Effect.promise(() => fs.writeFile(caFile, creds.client.ca))
  return { port, received, caFile, client: creds.client }
})

const hasProgram = async (name: string) =>
  fs.access(`/usr/bin/${name}`).then(
    () => true,
    () => false
  )

const haveSwaks = await hasProgram("swaks")
const haveOpenssl = await hasProgram("openssl")

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

  it.live.skipIf(!haveSwaks)("swaks --tls delivers a message, verifying the certificate", () =>
    Effect.gen(function* () {
      const { port, received, caFile } = yield* fixture
      const result = yield* run(
        "swaks",
        [
          "--server",
          "127.0.0.1",
          "--port",
          String(port),
          "--tls",
          "--tls-verify",
          "--tls-ca-path",
          caFile,
          "--tls-sni",
          "localhost",
          "--from",
          "alice@example.com",
          "--to",
          "bob@example.com",
          "--body",
          "from swaks"
        ],
        ""
      )
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.include(result.stdout, "220 2.0.0 Ready to start TLS")
      assert.strictEqual(received.length, 1)
      assert.isTrue(received[0]?.overTls)
      assert.include(received[0]?.body ?? "", "from swaks")
    }).pipe(Effect.scoped)
  )

  it.live.skipIf(!haveOpenssl)("openssl s_client -starttls smtp verifies and sends a message", () =>
    Effect.gen(function* () {
      const { port, received, caFile } = yield* fixture
      const result = yield* run(
        "openssl",
        [
          "s_client",
          "-starttls",
          "smtp",
          "-connect",
          `127.0.0.1:${port}`,
          "-servername",
          "localhost",
          "-CAfile",
          caFile,
          "-verify_return_error",
          "-verify_hostname",
          "localhost",
          "-crlf",
          "-ign_eof"
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
