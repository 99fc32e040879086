/**
 * The `effect-tls` binary run as a subprocess: its arguments, its help, its
 * exit codes, and `connect` against `serve`.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import * as Loopback from "@effect-tls/test/Loopback"
import * as Peer from "@effect-tls/test/Peer"
import * as TempFiles from "@effect-tls/test/TempFiles"
import * as Effect from "effect/Effect"
import { cli, cliToEnd, connectTo, live, pemFiles, serve, serveWith } from "./support.ts"

const session = /^session: TLSv1\.3 \S+ /m

describe("arguments", () => {
  it.live("--help describes the commands and the exit codes, on stdout, exit 0", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const root = yield* cliToEnd(["--help"])
        assert.strictEqual(root.code, 0)
        assert.match(root.stdoutText, /connect\s+connect to a TLS server/)
        assert.match(root.stdoutText, /serve\s+serve TLS/)
        const connect = yield* cliToEnd(["connect", "--help"])
        assert.strictEqual(connect.code, 0)
        assert.match(connect.stdoutText, /--handshake-timeout DURATION/)
        assert.match(connect.stdoutText, /3 connection failed/)
        assert.match(connect.stdoutText, /4 TLS handshake failed/)
        assert.match(connect.stdoutText, /5 truncated/)
        assert.match(connect.stdoutText, /EXAMPLES/)
        const serveHelp = yield* cliToEnd(["serve", "--help"])
        assert.strictEqual(serveHelp.code, 0)
        assert.match(serveHelp.stdoutText, /--mode echo\|sink\|source=BYTES/)
        assert.match(serveHelp.stdoutText, /EXAMPLES/)
      })
    )
  )

  const usage = (args: ReadonlyArray<string>, expected: RegExp) =>
    Effect.scoped(
      Effect.gen(function* () {
        const result = yield* cliToEnd(args)
        assert.strictEqual(result.code, 2, result.stderr)
        assert.strictEqual(result.stdoutText, "", "nothing on stdout")
        assert.match(result.stderr, /^error: /m)
        assert.match(result.stderr, expected)
      })
    )

  it.live("a bad address says what an address looks like (exit 2)", () =>
    usage(["connect", "example.com"], /Invalid value for argument <host:port>: "example.com".*host:port, like/)
  )
  it.live("an unbracketed IPv6 address is refused (exit 2)", () =>
    usage(["connect", "::1:443"], /Invalid value for argument <host:port>/)
  )
  it.live("a missing address (exit 2)", () => usage(["connect"], /Missing required argument: host:port/))
  it.live("a bad duration says how to write one (exit 2)", () =>
    usage(["connect", "localhost:1", "--handshake-timeout", "5"], /like 500ms, 2s or 1m/)
  )
  it.live("a zero duration is refused: every wait is bounded (exit 2)", () =>
    usage(["connect", "localhost:1", "--connect-timeout", "0s"], /a positive number and a unit/)
  )
  it.live("--cert without --key (exit 2)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const files = yield* pemFiles("client")
        yield* usage(
          ["connect", "localhost:1", "--cert", files.chain],
          /UsageError: InvalidArguments: --cert needs --key/
        )
      })
    )
  )
  it.live("a --ca file that does not exist (exit 2)", () =>
    usage(["connect", "localhost:1", "--ca", "/nonexistent/ca.pem"], /--ca/)
  )
  it.live("an unknown flag (exit 2)", () => usage(["connect", "localhost:1", "--bogus"], /--bogus/))
  it.live("an unknown --path (exit 2)", () =>
    usage(["connect", "localhost:1", "--path", "fast"], /"native" \| "duplex"/)
  )
  it.live("serve: a bad mode, a bad port, --verify-client without --ca (exit 2)", () =>
    Effect.gen(function* () {
      yield* usage(["serve", "--mode", "loop"], /echo, sink or source=<bytes>/)
      yield* usage(["serve", "--mode", "source=lots"], /echo, sink or source=<bytes>/)
      yield* usage(["serve", "--port", "70000"], /0 to 65535/)
      yield* usage(["serve", "--verify-client"], /--verify-client needs --ca/)
    })
  )

  it.live("the pnpm bin shim runs the launcher on the workspace's Node 24, not the system's", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const shim = path.join(import.meta.dirname, "..", "..", "..", "node_modules", ".bin", "effect-tls")
        assert.isTrue(fs.existsSync(shim), "run pnpm install: the root devDependency links the bin")
        // Only the system directories on PATH: a `node` found there would be the old system one.
        const proc = yield* Peer.start(shim, ["--version"], { env: { PATH: "/usr/bin:/bin" }, timeout: "15 seconds" })
        const exit = yield* proc.exited
        assert.strictEqual(exit.code, 0, proc.stderr())
        assert.match(proc.stdoutText(), /effect-tls v0\.1\.0/)
      })
    )
  )
})

describe("connect and serve", () => {
  live(
    "serve makes an ephemeral CA; connect trusts it and echoes 1 MiB of random bytes exactly (exit 0)",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      assert.isDefined(server.caPath)
      assert.match(
        server.proc.stderr(),
        /certificate: DNS:localhost, IP:127\.0\.0\.1, IP:::1 SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/
      )
      assert.strictEqual(server.host, "127.0.0.1")
      const input = randomBytes(1024 * 1024)
      for (const path of ["native", "duplex"]) {
        const result = yield* connectTo(server, ["--path", path], input)
        assert.strictEqual(result.code, 0, result.stderr)
        assert.isTrue(
          result.stdout.equals(input),
          `${path}: the echo is the input, byte for byte (got ${result.stdout.length} of ${input.length} bytes; server: ${server.proc
            .stderr()
            .split("\n")
            .filter((line) => line.startsWith("connection"))
            .join(" / ")})`
        )
        assert.match(result.stderr, session)
        assert.match(result.stderr, /verified=yes/)
        assert.match(result.stderr, /subject=CN=localhost/)
      }
      yield* server.proc.waitFor(/connection #2: .* received=1048576 sent=1048576 ended=clean/, { stream: "stderr" })
    })
  )

  live(
    "stdout carries only the peer's data: the exact bytes of source=N",
    Effect.gen(function* () {
      const server = yield* serve(["--mode", "source=100000"])
      const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", server.caPath ?? ""])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.length, 100000)
      assert.isTrue(result.stdout.every((b) => b === 0x61))
    })
  )

  live(
    "serve exits 0 on SIGTERM and SIGINT, and removes the ephemeral CA file",
    Effect.gen(function* () {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const server = yield* serve(["--shutdown-timeout", "1s"], { timeout: "20 seconds" })
        const caPath = server.caPath ?? ""
        assert.isTrue(fs.existsSync(caPath))
        // A connection open during the shutdown is closed gracefully, not cut.
        const client = yield* cli(["connect", server.address, "--ca", caPath])
        yield* client.waitFor(session, { stream: "stderr" })
        yield* server.proc.signal(signal)
        const exit = yield* server.proc.exited
        assert.strictEqual(exit.code, 0, server.proc.stderr())
        assert.isFalse(fs.existsSync(caPath), "the CA file is removed")
        assert.strictEqual(
          server.proc
            .stdoutText()
            .split("\n")
            .filter((l) => l !== "").length,
          1,
          "one stdout line"
        )
        const clientExit = yield* client.exited
        assert.strictEqual(clientExit.code, 0, client.stderr())
      }
    })
  )

  live(
    "ALPN: the server's choice is on the session line",
    Effect.gen(function* () {
      const server = yield* serve(["--alpn", "h2,http/1.1"])
      const result = yield* connectTo(server, ["--alpn", "http/1.1"])
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stderr, /alpn=http\/1\.1/)
    })
  )

  live(
    "mutual TLS: --require-client-cert refuses a client without a certificate and admits one with",
    Effect.gen(function* () {
      const server = yield* pemFiles("server")
      const client = yield* pemFiles("client")
      const peer = yield* serveWith(server, ["--ca", server.ca, "--require-client-cert"])
      const refused = yield* cliToEnd(["connect", peer.address, "--ca", server.ca, "--servername", "localhost"], "x")
      assert.notStrictEqual(refused.code, 0)
      assert.match(refused.stderr, /^error: Tls\w+Error: /m)
      const admitted = yield* cliToEnd(
        ["connect", peer.address, "--ca", server.ca, "--cert", client.chain, "--key", client.key],
        "hello"
      )
      assert.strictEqual(admitted.code, 0, admitted.stderr)
      assert.strictEqual(admitted.stdoutText, "hello")
    })
  )

  live(
    "-v prints the events: session tickets, close_notify",
    Effect.gen(function* () {
      const server = yield* serve([])
      const result = yield* connectTo(server, ["-v"], "x")
      assert.strictEqual(result.code, 0, result.stderr)
      assert.match(result.stderr, /^event: session ticket received \(\d+ bytes\)$/m)
      assert.match(result.stderr, /^event: close_notify sent$/m)
    })
  )

  live(
    "--keylog appends SSLKEYLOGFILE lines",
    Effect.gen(function* () {
      const keylog = path.join(yield* TempFiles.directory(), "keys.log")
      const server = yield* serve([])
      const result = yield* connectTo(server, ["--keylog", keylog], "x")
      assert.strictEqual(result.code, 0, result.stderr)
      const lines = fs.readFileSync(keylog, "utf8")
      assert.match(lines, /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$/m)
      assert.match(lines, /^CLIENT_TRAFFIC_SECRET_0 /m)
      assert.notMatch(result.stderr, /TRAFFIC_SECRET/, "secrets never reach stderr")
    })
  )
})

describe("error exits", () => {
  live(
    "unknown CA: exit 4, error: TlsHandshakeError: UnknownCa",
    Effect.gen(function* () {
      const bad = yield* pemFiles("unknownCa")
      const server = yield* serveWith(bad)
      for (const path of ["native", "duplex"]) {
        const result = yield* cliToEnd(["connect", server.address, "--ca", bad.ca, "--path", path])
        assert.strictEqual(result.code, 4, result.stderr)
        assert.match(result.stderr, /^error: TlsHandshakeError: UnknownCa: /m)
        assert.strictEqual(result.stdoutText, "")
      }
    })
  )

  live(
    "hostname mismatch: exit 4, error: TlsHandshakeError: HostnameMismatch",
    Effect.gen(function* () {
      const bad = yield* pemFiles("wrongHost")
      const server = yield* serveWith(bad)
      const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", bad.ca])
      assert.strictEqual(result.code, 4, result.stderr)
      assert.match(result.stderr, /^error: TlsHandshakeError: HostnameMismatch: /m)
      // --insecure connects anyway, and says so.
      const insecure = yield* cliToEnd(["connect", `localhost:${server.port}`, "--insecure"], "ok")
      assert.strictEqual(insecure.code, 0, insecure.stderr)
      assert.match(insecure.stderr, /WARNING: --insecure/)
      assert.match(insecure.stderr, /verified=NO/)
      assert.strictEqual(insecure.stdoutText, "ok")
    })
  )

  live(
    "connection refused: exit 3, error: TlsTransportError: ConnectionRefused",
    Effect.gen(function* () {
      const port = yield* Loopback.closedPort
      for (const path of ["native", "duplex"]) {
        const result = yield* cliToEnd(["connect", `127.0.0.1:${port}`, "--path", path])
        assert.strictEqual(result.code, 3, result.stderr)
        assert.match(result.stderr, /^error: TlsTransportError: ConnectionRefused: /m)
      }
    })
  )

  live(
    "a silent server: the handshake timeout ends it with exit 4, error: TlsHandshakeError: Timeout",
    Effect.gen(function* () {
      const { port } = yield* Loopback.listen()
      const started = Date.now()
      const result = yield* cliToEnd(["connect", `127.0.0.1:${port}`, "--handshake-timeout", "500ms"])
      assert.strictEqual(result.code, 4, result.stderr)
      assert.match(result.stderr, /^error: TlsHandshakeError: Timeout/m)
      assert.isBelow(Date.now() - started, 8000)
    })
  )

  live(
    "truncation: exit 5 on the duplex path; the native path cannot see it (exit 0, documented)",
    Effect.gen(function* () {
      const files = yield* pemFiles("server")
      const port = yield* truncatingServer(files)
      const duplex = yield* cliToEnd(["connect", `localhost:${port}`, "--ca", files.ca, "--path", "duplex"])
      assert.strictEqual(duplex.code, 5, duplex.stderr)
      assert.match(duplex.stderr, /^error: TlsTruncationError: EndWithoutCloseNotify/m)
      assert.strictEqual(duplex.stdoutText, "partial", "the data before the cut is delivered")
      const native = yield* cliToEnd(["connect", `localhost:${port}`, "--ca", files.ca])
      assert.strictEqual(native.code, 0, native.stderr)
      assert.strictEqual(native.stdoutText, "partial")
    })
  )

  live(
    "serve --path duplex: the duplex path serves both paths' clients, byte for byte",
    Effect.gen(function* () {
      const server = yield* serve(["--path", "duplex", "-v"])
      const input = randomBytes(256 * 1024)
      for (const path of ["native", "duplex"]) {
        const result = yield* connectTo(server, ["--path", path], input)
        assert.strictEqual(result.code, 0, result.stderr)
        assert.isTrue(result.stdout.equals(input), `${path} client: the echo is the input, byte for byte`)
      }
      yield* server.proc.waitFor(/connection #2: peer=127\.0\.0\.1:\d+ .* received=262144 sent=262144 ended=clean/, {
        stream: "stderr"
      })
    })
  )
})

/**
 * A TLS server that sends "partial" and then ends the TCP connection without
 * close_notify: the attack (or the broken peer) that truncation detection is for.
 */
const truncatingServer = (files: TempFiles.PemFiles) => {
  const context = tls.createSecureContext({ cert: fs.readFileSync(files.chain), key: fs.readFileSync(files.key) })
  const server = net.createServer((raw) => {
    raw.on("error", () => {})
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context })
    secure.on("error", () => {})
    secure.on("secure", () => {
      secure.write("partial", () => {
        // FIN on the TCP socket under TLS: no close_notify.
        raw.end()
      })
    })
  })
  return Loopback.serve(server)
}
