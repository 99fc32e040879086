/**
 * What `effect-tls serve -v` reports: failed handshakes with their reason
 * and peer, and how each connection ended, saying only what the path can
 * tell (the native path cannot tell a close_notify from a bare FIN), and
 * what `--max-connections` does to the client beyond it.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as tls from "node:tls"
import { assert, describe } from "@effect/vitest"
import * as Peer from "@effect-tls/test/Peer"
import * as Effect from "effect/Effect"
import { cli, cliToEnd, live, serve } from "./support.ts"

const openssl = Peer.available("openssl", "stdbuf")

/** A TCP connection to 127.0.0.1:`port`, destroyed with the scope. */
const tcp = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
      socket.on("error", () => {})
      return socket
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/**
 * A TLS client in this process that writes `hello`, reads the echo, then
 * ends the TCP connection under TLS: a FIN without close_notify, as
 * bssl-tool and nginx do. Completes once the server answered the end.
 */
const finWithoutCloseNotify = (port: number, caPath: string) =>
  Effect.gen(function* () {
    const raw = yield* tcp(port)
    const secure = tls.connect({ socket: raw, ca: fs.readFileSync(caPath), servername: "localhost" })
    secure.on("error", () => {})
    yield* Effect.callback<void, Error>((resume) => {
      let echoed = ""
      secure.on("secureConnect", () => secure.write("hello"))
      secure.on("data", (chunk: Buffer) => {
        echoed += chunk.toString("latin1")
        // The FIN goes on the TCP socket itself: TLS never sends close_notify.
        if (echoed === "hello") raw.end()
      })
      // The server's answer to the end: its close_notify (the TLS socket's end), or a reset.
      const answered = () => resume(echoed === "hello" ? Effect.void : Effect.fail(new Error(`echo: "${echoed}"`)))
      secure.once("end", answered)
      secure.once("close", answered)
    }).pipe(Effect.timeout("10 seconds"))
  })

/** The server's `connection #n:` line for the `n`th connection. */
const connectionLine = (server: Effect.Success<ReturnType<typeof serve>>, n: number) =>
  Effect.map(server.proc.waitFor(new RegExp(`^connection #${n}: .*$`, "m"), { stream: "stderr" }), (match) => match[0])

describe("serve -v", () => {
  live(
    "prints a failed handshake with its reason and the client's address: a plaintext client",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      const socket = yield* tcp(server.port)
      yield* Effect.callback<void>((resume) => {
        socket.once("connect", () => resume(Effect.void))
      })
      socket.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
      const [line] = yield* server.proc.waitFor(/^handshake failed: .*$/m, { stream: "stderr" })
      assert.match(
        line,
        new RegExp(`^handshake failed: peer=127\\.0\\.0\\.1:${socket.localPort} TlsHandshakeError: \\w+`)
      )
      assert.notInclude(server.proc.stderr(), "connection #1:", "no handler ran")
    })
  )

  live(
    "native path: a bare FIN and a close_notify both read as 'the peer ended', never as close_notify received",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      yield* finWithoutCloseNotify(server.port, server.caPath ?? "")
      const fin = yield* connectionLine(server, 1)
      // Our own client sends close_notify when its input ends.
      const withCloseNotify = yield* cliToEnd(["connect", server.address, "--ca", server.caPath ?? ""], "hello")
      assert.strictEqual(withCloseNotify.code, 0, withCloseNotify.stderr)
      const notify = yield* connectionLine(server, 2)
      for (const line of [fin, notify]) {
        assert.match(line, /received=5 sent=5 ended=clean \(the peer ended, with close_notify or a bare FIN/)
        assert.notInclude(line, "close_notify received")
      }
    })
  )

  live(
    "duplex path: a bare FIN is a truncation, a close_notify a clean end with close_notify received and sent",
    Effect.gen(function* () {
      const server = yield* serve(["-v", "--path", "duplex"])
      yield* finWithoutCloseNotify(server.port, server.caPath ?? "")
      assert.match(
        yield* connectionLine(server, 1),
        /received=5 sent=5 ended=TlsTruncationError: EndWithoutCloseNotify/
      )
      const withCloseNotify = yield* cliToEnd(["connect", server.address, "--ca", server.caPath ?? ""], "hello")
      assert.strictEqual(withCloseNotify.code, 0, withCloseNotify.stderr)
      assert.match(
        yield* connectionLine(server, 2),
        /received=5 sent=5 ended=clean \(close_notify received and sent\)$/
      )
    })
  )

  live(
    "--max-connections: the client beyond the limit is refused at once, not kept waiting; a freed slot is taken",
    Effect.gen(function* () {
      const server = yield* serve(["--max-connections", "1"])
      const help = yield* cliToEnd(["serve", "--help"])
      assert.match(help.stdoutText, /--max-connections[\s\S]*refused/)
      const first = yield* cli(["connect", server.address, "--ca", server.caPath ?? ""])
      yield* first.waitFor(/^session: /m, { stream: "stderr" })
      const started = Date.now()
      const refused = yield* cliToEnd(["connect", server.address, "--ca", server.caPath ?? ""], "x")
      assert.strictEqual(refused.code, 3, refused.stderr)
      assert.match(refused.stderr, /^error: TlsTransportError: ConnectionReset/m)
      assert.isBelow(Date.now() - started, 5_000, "refused, not left waiting until a timeout")
      yield* first.endInput
      assert.strictEqual((yield* first.exited).code, 0, first.stderr())
      const admitted = yield* cliToEnd(["connect", server.address, "--ca", server.caPath ?? ""], "y")
      assert.strictEqual(admitted.code, 0, admitted.stderr)
      assert.strictEqual(admitted.stdoutText, "y")
    })
  )
})

describe.skipIf(!openssl)("serve -v against openssl s_client (needs openssl, stdbuf)", () => {
  live(
    "a TLS 1.1 client: the failed handshake is printed with its reason",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      const client = yield* Peer.opensslClient({
        port: server.port,
        ca: server.caPath ?? "",
        servername: "localhost",
        args: ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
      })
      yield* client.exited
      const [line] = yield* server.proc.waitFor(/^handshake failed: .*$/m, { stream: "stderr" })
      assert.match(line, /^handshake failed: peer=127\.0\.0\.1:\d+ TlsHandshakeError: \w+/)
    })
  )

  live(
    "duplex path: s_client's close_notify is reported as received; native path: as the peer's end only",
    Effect.gen(function* () {
      for (const path of ["duplex", "native"] as const) {
        const server = yield* serve(["-v", "--path", path])
        const client = yield* Peer.opensslClient({
          port: server.port,
          ca: server.caPath ?? "",
          servername: "localhost",
          args: ["-quiet", "-no_ign_eof"]
        })
        yield* client.write("hi\n")
        yield* client.waitFor(/^hi$/m, { stream: "stdout" })
        // At the end of its input, s_client sends close_notify.
        yield* client.endInput
        yield* client.exited
        const line = yield* connectionLine(server, 1)
        if (path === "duplex") assert.match(line, /ended=clean \(close_notify received and sent\)$/)
        else
          assert.match(
            line,
            /ended=clean \(the peer ended, with close_notify or a bare FIN: the native path cannot tell/
          )
      }
    })
  )
})
