/**
 * An SMTP-style server with STARTTLS, written with effect-tls: it greets in
 * plaintext, advertises STARTTLS, refuses mail before TLS, upgrades with
 * `NodeTls.upgradeServer` (which rejects plaintext pipelined after the STARTTLS
 * command) and takes one message at a time over TLS. Not a mail server: it
 * accepts every address and logs the messages it receives.
 *
 * Run it: `node packages/node/examples/smtp-starttls-server.ts <port> <cert.pem> <key.pem>`
 */
import { readFileSync } from "node:fs"
import * as net from "node:net"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import * as Plaintext from "../src/Plaintext.ts"
import type * as TlsOptions from "../src/TlsOptions.ts"

/** A line-oriented view of either phase (plaintext, then TLS). */
interface Lines {
  readonly readLine: Effect.Effect<string, TlsError>
  readonly write: (text: string) => Effect.Effect<void, TlsError>
}

const decoder = new TextDecoder()

/** A message the server accepted. */
export interface Received {
  readonly from: string
  readonly to: ReadonlyArray<string>
  readonly body: string
  readonly overTls: boolean
}

/**
 * Speaks SMTP on `lines` until QUIT, STARTTLS (returns `"starttls"`) or the
 * end of the stream.
 */
const session = (lines: Lines, overTls: boolean, onMessage: (message: Received) => void) =>
  Effect.gen(function* () {
    let from: string | undefined
    let to: Array<string> = []
    for (;;) {
      const line = yield* lines.readLine
      const verb = line.slice(0, 4).toUpperCase()
      if (verb === "EHLO" || verb === "HELO") {
        yield* lines.write(
          overTls ? "250-localhost\r\n250 8BITMIME\r\n" : "250-localhost\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
        )
      } else if (line.toUpperCase() === "STARTTLS") {
        if (overTls) {
          yield* lines.write("503 5.5.1 TLS already active\r\n")
          continue
        }
        yield* lines.write("220 2.0.0 Ready to start TLS\r\n")
        return "starttls" as const
      } else if (verb === "QUIT") {
        yield* lines.write("221 2.0.0 Bye\r\n")
        return "quit" as const
      } else if (verb === "NOOP" || verb === "RSET") {
        from = undefined
        to = []
        yield* lines.write("250 2.0.0 OK\r\n")
      } else if (!overTls) {
        yield* lines.write("530 5.7.0 Must issue a STARTTLS command first\r\n")
      } else if (verb === "MAIL") {
        from = line.slice(line.indexOf(":") + 1).trim()
        to = []
        yield* lines.write("250 2.1.0 OK\r\n")
      } else if (verb === "RCPT") {
        to.push(line.slice(line.indexOf(":") + 1).trim())
        yield* lines.write("250 2.1.5 OK\r\n")
      } else if (verb === "DATA") {
        if (from === undefined || to.length === 0) {
          yield* lines.write("503 5.5.1 MAIL and RCPT first\r\n")
          continue
        }
        yield* lines.write("354 End data with <CR><LF>.<CR><LF>\r\n")
        const body: Array<string> = []
        for (let data = yield* lines.readLine; data !== "."; data = yield* lines.readLine) {
          body.push(data.startsWith("..") ? data.slice(1) : data)
        }
        onMessage({ from, to, body: body.join("\r\n"), overTls })
        from = undefined
        to = []
        yield* lines.write("250 2.0.0 OK: queued\r\n")
      } else {
        yield* lines.write("502 5.5.2 Command not recognized\r\n")
      }
    }
  })

/** One client: plaintext until STARTTLS, then TLS. */
export const handle = (
  socket: net.Socket,
  credentials: TlsOptions.ServerConnectionOptions,
  onMessage: (message: Received) => void
): Effect.Effect<void, TlsError, Scope.Scope> =>
  Effect.gen(function* () {
    const plain = yield* Plaintext.make(yield* NodeTransport.fromSocket(socket))
    yield* plain.write("220 localhost ESMTP effect-tls example\r\n")
    const next = yield* session(plain, false, onMessage)
    if (next === "quit") return
    const conn = yield* NodeTls.upgradeServer(plain, credentials)
    const lines: Lines = {
      readLine: Effect.map(conn.reader.readUntil("\r\n", { maxBytes: 1000 }), (line) => decoder.decode(line)),
      write: (text) => conn.writer.write(text)
    }
    yield* session(lines, true, onMessage)
    yield* conn.writer.end
  })

/** Serves on 127.0.0.1:`port` (0: any free port) until the scope closes; returns the port. */
export const serve = (
  port: number,
  credentials: TlsOptions.ServerConnectionOptions,
  onMessage: (message: Received) => void = (message) => console.log("received", message)
): Effect.Effect<number, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const accepted = yield* Queue.unbounded<net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.callback<net.Server, Error>((resume) => {
        const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
          socket.on("error", () => {})
          Queue.offerUnsafe(accepted, socket)
        })
        s.once("error", (error) => resume(Effect.fail(error)))
        s.listen(port, "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.callback<void>((resume) => {
          s.close(() => resume(Effect.void))
        })
    )
    yield* Queue.take(accepted).pipe(
      Effect.flatMap((socket) =>
        Effect.forkScoped(
          handle(socket, credentials, onMessage).pipe(
            Effect.scoped,
            Effect.catch((error) => Effect.logWarning("SMTP session failed", error)),
            Effect.ensuring(Effect.sync(() => socket.destroy()))
          )
        )
      ),
      Effect.forever,
      Effect.forkScoped
    )
    return (server.address() as net.AddressInfo).port
  })

if (import.meta.main) {
  const [port = "2525", cert = "cert.pem", key = "key.pem"] = process.argv.slice(2)
  const credentials: TlsOptions.ServerConnectionOptions = {
    credentials: [{ cert: readFileSync(cert, "utf8"), key: Redacted.make(readFileSync(key, "utf8")) }]
  }
  Effect.runFork(
    Effect.scoped(
      Effect.flatMap(serve(Number(port), credentials), (bound) =>
        Effect.andThen(Effect.log(`SMTP with STARTTLS on 127.0.0.1:${bound}`), Effect.never)
      )
    )
  )
}
