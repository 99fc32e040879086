/**
 * An SMTP-style client with STARTTLS, written with effect-tls: it reads the
 * greeting, checks that STARTTLS is advertised, upgrades with
 * `NodeTls.upgradeClient` (verifying the server's certificate, and refusing any
 * plaintext the server sent after its 220 answer) and sends one message over
 * TLS.
 *
 * Run it: `node packages/node/examples/smtp-starttls-client.ts <port> <ca.pem>`
 */
import { readFileSync } from "node:fs"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import * as Plaintext from "../src/Plaintext.ts"

/** The server answered with an unexpected code. */
export class SmtpError extends Data.TaggedError("SmtpError")<{ readonly expected: number; readonly reply: string }> {}

const decoder = new TextDecoder()

/** Reads one reply (its continuation lines included); fails unless its code is `expected`. */
const reply = (readLine: Effect.Effect<string, TlsError>, expected: number) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    for (;;) {
      const line = yield* readLine
      lines.push(line)
      if (line.length < 4 || line[3] !== "-") break
    }
    const text = lines.join("\n")
    if (!text.startsWith(String(expected))) return yield* new SmtpError({ expected, reply: text })
    return lines
  })

/** Sends one message to the server at 127.0.0.1:`port` over STARTTLS. */
export const send = (options: {
  readonly port: number
  readonly tls: NodeTls.UpgradeClientOptions
  readonly from: string
  readonly to: string
  readonly body: string
}) =>
  Effect.scoped(
    Effect.gen(function* () {
      const plain = yield* Plaintext.make(yield* NodeTransport.connect({ host: "127.0.0.1", port: options.port }))
      yield* reply(plain.readLine, 220)
      yield* plain.write("EHLO client.example\r\n")
      const features = yield* reply(plain.readLine, 250)
      if (!features.some((line) => line.slice(4).toUpperCase() === "STARTTLS")) {
        return yield* new SmtpError({ expected: 250, reply: "STARTTLS not advertised" })
      }
      yield* plain.write("STARTTLS\r\n")
      yield* reply(plain.readLine, 220)
      const conn = yield* NodeTls.upgradeClient(plain, options.tls)
      const readLine = Effect.map(conn.reader.readUntil("\r\n", { maxBytes: 1000 }), (line) => decoder.decode(line))
      const command = (line: string, expected: number) =>
        Effect.andThen(conn.writer.write(`${line}\r\n`), reply(readLine, expected))
      yield* command("EHLO client.example", 250)
      yield* command(`MAIL FROM:<${options.from}>`, 250)
      yield* command(`RCPT TO:<${options.to}>`, 250)
      yield* command("DATA", 354)
      const body = options.body
        .split(/\r?\n/)
        .map((line) => (line.startsWith(".") ? `.${line}` : line))
        .join("\r\n")
      yield* command(`${body}\r\n.`, 250)
      yield* command("QUIT", 221)
      yield* conn.writer.end
      return conn.session
    })
  )

if (import.meta.main) {
  const [port = "2525", ca = "ca.pem"] = process.argv.slice(2)
  Effect.runPromise(
    send({
      port: Number(port),
      tls: { ca: readFileSync(ca, "utf8"), servername: "localhost" },
      from: "alice@example.com",
      to: "bob@example.com",
      body: "Subject: hello\r\n\r\nSent over STARTTLS with effect-tls."
    })
  ).then(
    (session) => console.log(`sent over ${session.protocol} ${session.cipher}`),
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
