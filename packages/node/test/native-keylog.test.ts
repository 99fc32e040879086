/**
 * Key logging to a file in SSLKEYLOGFILE format, checked against the key log
 * of an independent peer (plain node:tls) of the same connection.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority, Loopback, TempFiles } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { serveIssued } from "./helpers.ts"

/** The lines of `file` naming `label`, once there are `count` of them (the file is appended asynchronously). */
const keylogLines = (file: string, label: string, count: number) =>
  Effect.gen(function* () {
    // Bounded poll: the writes are fire-and-forget appends with no completion event.
    for (let attempt = 0; attempt < 250; attempt++) {
      const lines = readText(file)
        .split("\n")
        .filter((line) => line.startsWith(`${label} `))
      if (lines.length >= count) return lines
      yield* Effect.sleep("20 millis")
    }
    return assert.fail(`${file} never had ${count} ${label} lines:\n${readText(file)}`)
  })

const readText = (file: string): string => {
  try {
    return readFileSync(file, "latin1")
  } catch {
    return ""
  }
}

/** A plain node:tls server that records its key log lines and echoes one line. */
const plainServer = (issued: CertificateAuthority.Issued) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const server = tls.createServer({ cert: issued.chain, key: issued.key })
    server.on("keylog", (line: Buffer) => lines.push(line.toString("latin1").trimEnd()))
    server.on("secureConnection", (socket) => {
      socket.on("error", () => {})
      socket.once("data", (data) => socket.end(data))
    })
    return { port: yield* Loopback.serve(server), lines }
  })

describe("native path: key log", () => {
  it.live(
    "client: SSLKEYLOGFILE lines in the file, CLIENT_TRAFFIC_SECRET_0 matching the server's for each connection",
    () =>
      Effect.gen(function* () {
        const issued = yield* CertificateAuthority.issueServer()
        const file = join(yield* TempFiles.directory(), "keylog.txt")
        const server = yield* plainServer(issued)
        for (let i = 0; i < 2; i++) {
          yield* Effect.scoped(
            Effect.gen(function* () {
              const connection = yield* NodeTls.connect({
                host: "127.0.0.1",
                port: server.port,
                ca: issued.ca,
                servername: "localhost",
                keylog: { file }
              })
              yield* connection.writer.write("ping")
              const echo = yield* connection.reader.read
              assert.strictEqual(Buffer.from(Option.getOrThrow(echo)).toString(), "ping")
            })
          )
        }
        const ours = yield* keylogLines(file, "CLIENT_TRAFFIC_SECRET_0", 2)
        const theirs = server.lines.filter((line) => line.startsWith("CLIENT_TRAFFIC_SECRET_0 "))
        assert.strictEqual(theirs.length, 2)
        // Same client random and same secret, connection by connection.
        assert.deepStrictEqual(ours, theirs)
        for (const line of ours) assert.match(line, /^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64,96}$/)
        assert.notStrictEqual(ours[0]?.split(" ")[1], ours[1]?.split(" ")[1])
        // The other TLS 1.3 labels are there too, with the same client randoms.
        const randoms = new Set(ours.map((line) => line.split(" ")[1]))
        for (const label of [
          "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
          "SERVER_HANDSHAKE_TRAFFIC_SECRET",
          "SERVER_TRAFFIC_SECRET_0"
        ]) {
          const lines = yield* keylogLines(file, label, 2)
          assert.deepStrictEqual(new Set(lines.map((line) => line.split(" ")[1])), randoms)
        }
      }).pipe(Effect.scoped)
  )

  it.live("server: the key log file has the CLIENT_TRAFFIC_SECRET_0 line of the client's own key log", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const file = join(yield* TempFiles.directory(), "server-keylog.txt")
      const server = yield* serveIssued(
        issued,
        (connection) =>
          Effect.gen(function* () {
            const chunk = yield* connection.reader.read
            if (Option.isSome(chunk)) yield* connection.writer.write(chunk.value)
          }),
        { keylog: { file } }
      )
      const clientLines = yield* Effect.callback<Array<string>>((resume) => {
        const lines: Array<string> = []
        const socket = tls.connect({
          host: "127.0.0.1",
          port: server.address.port,
          ca: issued.ca,
          servername: "localhost"
        })
        socket.on("keylog", (line: Buffer) => lines.push(line.toString("latin1").trimEnd()))
        socket.on("secureConnect", () => socket.write("x"))
        socket.on("data", () => socket.end())
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(lines)))
        return Effect.sync(() => socket.destroy())
      }).pipe(Effect.timeout("10 seconds"))
      const expected = clientLines.filter((line) => line.startsWith("CLIENT_TRAFFIC_SECRET_0 "))
      assert.strictEqual(expected.length, 1)
      assert.deepStrictEqual(yield* keylogLines(file, "CLIENT_TRAFFIC_SECRET_0", 1), expected)
    }).pipe(Effect.scoped)
  )
})
