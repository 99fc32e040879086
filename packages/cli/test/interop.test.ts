/**
 * The `effect-tls` binary against other TLS stacks: `openssl s_server` and
 * `gnutls-serv` for `connect`, `openssl s_client` and `gnutls-cli` for
 * `serve`, and an SMTP STARTTLS peer for `connect --starttls smtp`.
 *
 * gnutls-serv binds every address, so it runs in a network namespace of its
 * own (`unshare -n`), and the client joins it (`nsenter`); nothing leaves
 * loopback.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as tls from "node:tls"
import { assert, describe } from "@effect/vitest"
import * as Loopback from "@effect-tls/test/Loopback"
import * as Peer from "@effect-tls/test/Peer"
import type * as TempFiles from "@effect-tls/test/TempFiles"
import * as Effect from "effect/Effect"
import { binPath, cli, cliToEnd, live, pemFiles, serve, serveWith } from "./support.ts"

const session = /^session: TLSv1\.[23] \S+ /m
const openssl = Peer.available("openssl", "stdbuf")
const gnutls = Peer.available("gnutls-serv", "gnutls-cli")
const namespaces = Peer.available("unshare", "nsenter", "ip")

/** `openssl s_server` for one connection, serving a certificate of `kind`; its files and the port. */
const sServer = (kind: "server" | "wrongHost" | "unknownCa" | "expired", args: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const files = yield* pemFiles(kind)
    const server = yield* Peer.opensslServer({ files, args })
    return { server, files }
  })

/** `openssl s_client` to `effect-tls serve`, trusting `ca`. */
const sClient = (
  server: { readonly host: string; readonly port: number },
  ca: string,
  options: Omit<Peer.OpensslClientOptions, "port" | "host" | "ca"> = {}
) => Peer.opensslClient({ host: server.host, port: server.port, ca, ...options })

describe.skipIf(!openssl)("connect against openssl s_server (needs openssl, stdbuf)", () => {
  live(
    "both paths: data both ways, session line, exit 0 after the server's close",
    Effect.gen(function* () {
      for (const path of ["native", "duplex"]) {
        const { files, server } = yield* sServer("server", ["-rev"])
        const result = yield* cliToEnd(
          ["connect", `localhost:${server.port}`, "--ca", files.ca, "--path", path],
          "hello openssl\n"
        )
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdoutText, "lssnepo olleh\n", "s_server -rev reverses the line; nothing is added")
        assert.match(result.stderr, session)
        assert.match(result.stderr, /verified=yes/)
      }
    })
  )

  live(
    "ALPN, mutual TLS and TLS 1.2 with --min-version 1.2",
    Effect.gen(function* () {
      const client = yield* pemFiles("client")
      const { files, server } = yield* sServer("server", [
        "-rev",
        "-alpn",
        "h2",
        "-Verify",
        "1",
        "-CAfile",
        client.ca,
        "-tls1_2"
      ])
      const result = yield* cliToEnd(
        [
          "connect",
          `localhost:${server.port}`,
          "--ca",
          files.ca,
          "--alpn",
          "h2,http/1.1",
          "--cert",
          client.chain,
          "--key",
          client.key,
          "--min-version",
          "1.2"
        ],
        "abc\n"
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdoutText, "cba\n")
      assert.match(result.stderr, /^session: TLSv1\.2 /m)
      assert.match(result.stderr, /alpn=h2/)
    })
  )

  live(
    "TLS 1.3, s_server -Verify 1 and no client certificate: the alert after the handshake exits 4 (handshake), both paths",
    Effect.gen(function* () {
      for (const path of ["native", "duplex"]) {
        const { files, server } = yield* sServer("server", ["-Verify", "1", "-tls1_3"])
        const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", files.ca, "--path", path])
        assert.strictEqual(result.code, 4, `${path}: ${result.stderr}`)
        assert.match(result.stderr, /^error: TlsHandshakeError: PeerCertificateRequired: /m, path)
      }
    })
  )

  live(
    "--min-version 1.3 against a TLS 1.2-only server: exit 4",
    Effect.gen(function* () {
      const { files, server } = yield* sServer("server", ["-tls1_2"])
      const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", files.ca, "--min-version", "1.3"])
      assert.strictEqual(result.code, 4, result.stderr)
      assert.match(result.stderr, /^error: TlsHandshakeError: \w+/m)
    })
  )

  live(
    "hostname mismatch and unknown CA against s_server: exit 4 with the reason",
    Effect.gen(function* () {
      const cases = [
        { kind: "wrongHost", reason: "HostnameMismatch" },
        { kind: "unknownCa", reason: "UnknownCa" },
        { kind: "expired", reason: "CertificateExpired" }
      ] as const
      for (const { kind, reason } of cases) {
        const { files, server } = yield* sServer(kind)
        const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", files.ca])
        assert.strictEqual(result.code, 4, `${kind}: ${result.stderr}`)
        assert.match(result.stderr, new RegExp(`^error: TlsHandshakeError: ${reason}: `, "m"))
      }
    })
  )

  live(
    "a KeyUpdate (update requested) from s_server in the middle of the session: the client answers and data flows both ways",
    Effect.gen(function* () {
      for (const path of ["native", "duplex"]) {
        const { files, server } = yield* sServer("server", ["-msg"])
        const client = yield* cli(["connect", `localhost:${server.port}`, "--ca", files.ca, "--path", path, "-v"])
        yield* client.waitFor(session, { stream: "stderr" })
        // "K": a KeyUpdate that asks the client to update its keys too.
        // "K" must arrive alone (s_server drops the rest of a read that holds a
        // command): wait until -msg shows the KeyUpdate went out.
        yield* server.write("K\n")
        yield* server.waitFor(/>>> TLS 1\.3, Handshake \[length \w+\], KeyUpdate/, { stream: "stdout" })
        yield* server.write("after the key update\n")
        yield* client.waitFor(/after the key update\n/, { stream: "stdout" })
        yield* client.write("client after the key update\n")
        yield* server.waitFor(/client after the key update/, { stream: "stdout" })
        yield* client.endInput
        const exit = yield* client.exited
        assert.strictEqual(exit.code, 0, client.stderr())
        // The client answered the requested update (s_server logs what it receives).
        assert.match(server.stdoutText(), /<<< TLS 1\.3, Handshake \[length \w+\], KeyUpdate/)
        // -v shows both: the peer's update, and the answer (seen in the key log of the new secrets).
        assert.match(client.stderr(), /^event: key update received$/m, `${path}: ${client.stderr()}`)
        assert.match(client.stderr(), /^event: key update sent$/m, `${path}: ${client.stderr()}`)
      }
    })
  )
})

describe.skipIf(!openssl)("serve against openssl s_client (needs openssl, stdbuf)", () => {
  live(
    "echo: s_client's line comes back; the server's -v line says it ended cleanly",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      const client = yield* sClient(server, server.caPath ?? "", {
        servername: "localhost",
        args: ["-quiet", "-no_ign_eof"]
      })
      yield* client.write("hello from s_client\n")
      yield* client.waitFor(/hello from s_client\n/, { stream: "stdout" })
      yield* client.endInput
      yield* client.exited
      yield* server.proc.waitFor(
        /connection #1: peer=127\.0\.0\.1:\d+ TLSv1\.3 .*sni=localhost .*received=20 sent=20 ended=clean/,
        { stream: "stderr" }
      )
    })
  )

  live(
    "source=N: s_client receives exactly N bytes, then the server's close",
    Effect.gen(function* () {
      const server = yield* serve(["--mode", "source=1MiB"])
      const client = yield* sClient(server, server.caPath ?? "", { args: ["-quiet"], timeout: "20 seconds" })
      const exit = yield* client.exited
      assert.strictEqual(exit.code, 0, client.stderr())
      assert.strictEqual(client.stdout().length, 1024 * 1024)
    })
  )

  live(
    "--require-client-cert: s_client with a client certificate is served, without one is refused",
    Effect.gen(function* () {
      const files = yield* pemFiles("server")
      const clientFiles = yield* pemFiles("client")
      const server = yield* serveWith(files, ["--ca", files.ca, "--require-client-cert", "-v"])
      const common = ["-quiet", "-no_ign_eof"]
      const admitted = yield* sClient(server, files.ca, {
        verify: false,
        args: [...common, "-cert", clientFiles.cert, "-cert_chain", clientFiles.chain, "-key", clientFiles.key]
      })
      yield* admitted.write("with cert\n")
      yield* admitted.waitFor(/with cert\n/, { stream: "stdout" })
      yield* admitted.endInput
      yield* admitted.exited
      const refused = yield* sClient(server, files.ca, { verify: false, args: common })
      yield* refused.write("without cert\n")
      yield* refused.endInput
      yield* refused.exited
      assert.notInclude(refused.stdoutText(), "without cert")
    })
  )

  live(
    "a KeyUpdate from s_client (K) in the middle of an echo session",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      const client = yield* sClient(server, server.caPath ?? "", { verify: false, args: ["-no_ign_eof"] })
      yield* client.waitFor(/Verify return code: 0 \(ok\)/, { stream: "stdout" })
      yield* client.write("before\n")
      yield* client.waitFor(/^before$/m, { stream: "stdout" })
      yield* client.write("K\n")
      yield* client.waitFor(/KEYUPDATE/, { stream: "stderr" })
      yield* client.write("after\n")
      yield* client.waitFor(/^after$/m, { stream: "stdout" })
      yield* client.endInput
      yield* client.exited
      yield* server.proc.waitFor(/connection #1: .*received=13 sent=13 ended=clean/, { stream: "stderr" })
    })
  )
})

describe.skipIf(!gnutls)("gnutls (needs gnutls-bin)", () => {
  live(
    "serve against gnutls-cli: the echo comes back",
    Effect.gen(function* () {
      const server = yield* serve(["-v"])
      const client = yield* Peer.gnutlsClient({ host: "localhost", port: server.port, ca: server.caPath ?? "" })
      yield* client.write("hello from gnutls\n")
      yield* client.waitFor(/^hello from gnutls$/m, { stream: "stdout" })
      yield* client.endInput
      const exit = yield* client.exited
      assert.strictEqual(exit.code, 0, client.stderr())
      yield* server.proc.waitFor(/connection #1: peer=127\.0\.0\.1:\d+ TLSv1\.3 .*received=18 sent=18 ended=clean/, {
        stream: "stderr"
      })
    })
  )

  describe.skipIf(!namespaces)("gnutls-serv in its own network namespace (needs unshare, nsenter, ip)", () => {
    live(
      "connect against gnutls-serv --echo, both paths",
      Effect.gen(function* () {
        const files = yield* pemFiles("server")
        const server = yield* Peer.gnutlsEchoServer({ files })
        for (const path of ["native", "duplex"]) {
          const client = yield* server.enter(process.execPath, [
            binPath,
            "connect",
            `127.0.0.1:${server.innerPort}`,
            "--ca",
            files.ca,
            "--path",
            path
          ])
          yield* client.write("hello gnutls\n")
          yield* client.waitFor(/^hello gnutls\n$/, { stream: "stdout" })
          yield* client.endInput
          const exit = yield* client.exited
          assert.strictEqual(exit.code, 0, client.stderr())
          assert.strictEqual(client.stdoutText(), "hello gnutls\n")
          assert.match(client.stderr(), /verified=yes/)
        }
      })
    )
  })
})

describe("connect --starttls smtp", () => {
  /** `connect --starttls smtp` to the SMTP server below (offering STARTTLS or not), run to its end with `input`. */
  const starttls = (offer: boolean, input: string) =>
    Effect.gen(function* () {
      const files = yield* pemFiles("server")
      const port = yield* smtpServer(files, offer)
      return yield* cliToEnd(["connect", `localhost:${port}`, "--ca", files.ca, "--starttls", "smtp"], input)
    })

  live(
    "speaks the SMTP prologue, upgrades, and carries SMTP over TLS",
    Effect.gen(function* () {
      const result = yield* starttls(true, "EHLO client\r\nQUIT\r\n")
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdoutText, "250 secure hello\r\n221 bye\r\n", "only what was said over TLS")
      assert.match(result.stderr, session)
    })
  )

  live(
    "a server that does not offer STARTTLS: exit 4, nothing sent in plaintext after EHLO",
    Effect.gen(function* () {
      const result = yield* starttls(false, "secret")
      assert.strictEqual(result.code, 4, result.stderr)
      assert.match(result.stderr, /^error: StarttlsError: NotOffered: /m)
    })
  )
})

/**
 * Calls `onLine` with each CRLF-terminated line of what `socket` receives,
 * until `onLine` returns true (it took the socket over).
 */
const onLines = (socket: net.Socket | tls.TLSSocket, onLine: (line: string) => boolean | undefined) => {
  let buffered = ""
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString("latin1")
    for (let end = buffered.indexOf("\r\n"); end >= 0; end = buffered.indexOf("\r\n")) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      if (onLine(line) === true) return socket.removeListener("data", onData)
    }
  }
  socket.on("data", onData)
}

/**
 * A minimal SMTP server for the STARTTLS prologue: greeting, EHLO (offering
 * STARTTLS or not), STARTTLS, then TLS on the same socket, where it answers
 * EHLO and QUIT and closes with close_notify.
 */
const smtpServer = (files: TempFiles.PemFiles, offer: boolean) => {
  const context = tls.createSecureContext({ cert: fs.readFileSync(files.chain), key: fs.readFileSync(files.key) })
  const upgrade = (raw: net.Socket) => {
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context })
    secure.on("error", () => {})
    onLines(secure, (command) => {
      if (/^EHLO /i.test(command)) secure.write("250 secure hello\r\n")
      else if (/^QUIT$/i.test(command)) secure.end("221 bye\r\n")
      return false
    })
  }
  const server = net.createServer((raw) => {
    raw.on("error", () => {})
    raw.write("220 test ESMTP\r\n")
    onLines(raw, (command) => {
      if (/^EHLO /i.test(command)) {
        raw.write(offer ? "250-test\r\n250-PIPELINING\r\n250 STARTTLS\r\n" : "250-test\r\n250 PIPELINING\r\n")
      } else if (/^STARTTLS$/i.test(command)) {
        raw.write("220 go ahead\r\n", () => upgrade(raw))
        return true
      } else {
        raw.write("500 unexpected\r\n")
        raw.end()
      }
      return false
    })
  })
  return Loopback.serve(server)
}
