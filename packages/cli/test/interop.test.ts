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
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { binPath, bounded, cli, cliToEnd, freePort, has, pemFiles, run, serve, tempDir } from "./support.ts"

const session = /^session: TLSv1\.[23] \S+ /m
const openssl = has("openssl")
const gnutls = has("gnutls-serv") && has("gnutls-cli")
const namespaces = has("unshare") && has("nsenter") && has("ip")

/** `openssl s_server` on a free loopback port; waits for its ACCEPT line. */
const sServer = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const proc = yield* run("openssl", ["s_server", "-accept", "127.0.0.1:0", ...args])
    const [, port = ""] = yield* proc.waitFor("stdout", /^ACCEPT \S+:(\d+)$/m)
    return { proc, port: Number(port) }
  })

describe.skipIf(!openssl)("connect against openssl s_server", () => {
  it.live("both engines: data both ways, session line, exit 0 after the server's close", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          for (const engine of ["native", "duplex"]) {
            const server = yield* sServer([
              "-cert",
              files.cert,
              "-cert_chain",
              files.cert,
              "-key",
              files.key,
              "-rev",
              "-naccept",
              "1"
            ])
            const result = yield* cliToEnd(
              ["connect", `localhost:${server.port}`, "--ca", files.ca, "--engine", engine],
              "hello openssl\n"
            )
            assert.strictEqual(result.code, 0, result.stderr)
            assert.strictEqual(
              result.stdoutText,
              "lssnepo olleh\n",
              "s_server -rev reverses the line; nothing is added"
            )
            assert.match(result.stderr, session)
            assert.match(result.stderr, /verified=yes/)
          }
        })
      )
    )
  )

  it.live("ALPN, mutual TLS and TLS 1.2 with --min-version 1.2", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const client = yield* pemFiles(dir, "client")
          const server = yield* sServer([
            "-cert",
            files.cert,
            "-cert_chain",
            files.cert,
            "-key",
            files.key,
            "-rev",
            "-alpn",
            "h2",
            "-Verify",
            "1",
            "-CAfile",
            files.ca,
            "-tls1_2",
            "-naccept",
            "1"
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
              client.cert,
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
    )
  )

  it.live("--min-version 1.3 against a TLS 1.2-only server: exit 4", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const server = yield* sServer([
            "-cert",
            files.cert,
            "-cert_chain",
            files.cert,
            "-key",
            files.key,
            "-tls1_2",
            "-naccept",
            "1"
          ])
          const result = yield* cliToEnd([
            "connect",
            `localhost:${server.port}`,
            "--ca",
            files.ca,
            "--min-version",
            "1.3"
          ])
          assert.strictEqual(result.code, 4, result.stderr)
          assert.match(result.stderr, /^error: TlsHandshakeError: \w+/m)
        })
      )
    )
  )

  it.live("hostname mismatch and unknown CA against s_server: exit 4 with the reason", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const cases = [
            { kind: "wrongHost", reason: "HostnameMismatch" },
            { kind: "unknownCa", reason: "UnknownCa" },
            { kind: "expired", reason: "CertificateExpired" }
          ] as const
          for (const { kind, reason } of cases) {
            const files = yield* pemFiles(dir, kind)
            const server = yield* sServer([
              "-cert",
              files.cert,
              "-cert_chain",
              files.cert,
              "-key",
              files.key,
              "-naccept",
              "1"
            ])
            const result = yield* cliToEnd(["connect", `localhost:${server.port}`, "--ca", files.ca])
            assert.strictEqual(result.code, 4, `${kind}: ${result.stderr}`)
            assert.match(result.stderr, new RegExp(`^error: TlsHandshakeError: ${reason}: `, "m"))
          }
        })
      )
    )
  )

  it.live(
    "a KeyUpdate (update requested) from s_server in the middle of the session: the client answers and data flows both ways",
    () =>
      bounded(
        Effect.scoped(
          Effect.gen(function* () {
            const dir = yield* tempDir
            const files = yield* pemFiles(dir, "server")
            for (const engine of ["native", "duplex"]) {
              const server = yield* sServer([
                "-cert",
                files.cert,
                "-cert_chain",
                files.cert,
                "-key",
                files.key,
                "-naccept",
                "1",
                "-msg"
              ])
              const client = yield* cli([
                "connect",
                `localhost:${server.port}`,
                "--ca",
                files.ca,
                "--engine",
                engine,
                "-v"
              ])
              yield* client.waitFor("stderr", session)
              // "K": a KeyUpdate that asks the client to update its keys too.
              // "K" must arrive alone (s_server drops the rest of a read that holds a
              // command): wait until -msg shows the KeyUpdate went out.
              yield* server.proc.write("K\n")
              yield* server.proc.waitFor("stdout", />>> TLS 1\.3, Handshake \[length \w+\], KeyUpdate/)
              yield* server.proc.write("after the key update\n")
              yield* client.waitFor("stdout", /after the key update\n/)
              yield* client.write("client after the key update\n")
              yield* server.proc.waitFor("stdout", /client after the key update/)
              yield* client.endInput
              const exit = yield* client.exited()
              assert.strictEqual(exit.code, 0, client.stderr())
              // The client answered the requested update (s_server logs what it receives).
              assert.match(server.proc.stdoutText(), /<<< TLS 1\.3, Handshake \[length \w+\], KeyUpdate/)
            }
          })
        )
      )
  )
})

describe.skipIf(!openssl)("serve against openssl s_client", () => {
  it.live("echo: s_client's line comes back; the server's -v line says it ended cleanly", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serve(["-v"])
          const client = yield* run("openssl", [
            "s_client",
            "-connect",
            server.address,
            "-CAfile",
            server.caPath ?? "",
            "-servername",
            "localhost",
            "-verify_return_error",
            "-quiet",
            "-no_ign_eof"
          ])
          yield* client.write("hello from s_client\n")
          yield* client.waitFor("stdout", /hello from s_client\n/)
          yield* client.endInput
          yield* client.exited()
          yield* server.proc.waitFor(
            "stderr",
            /connection #1: peer=127\.0\.0\.1:\d+ TLSv1\.3 .*sni=localhost .*received=20 sent=20 ended=clean/
          )
        })
      )
    )
  )

  it.live("source=N: s_client receives exactly N bytes, then the server's close", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serve(["--mode", "source=1MiB"])
          const client = yield* run("openssl", [
            "s_client",
            "-connect",
            server.address,
            "-CAfile",
            server.caPath ?? "",
            "-verify_return_error",
            "-quiet"
          ])
          const exit = yield* client.exited("20 seconds")
          assert.strictEqual(exit.code, 0, client.stderr())
          assert.strictEqual(client.stdout().length, 1024 * 1024)
        })
      )
    )
  )

  it.live("--require-client-cert: s_client with a client certificate is served, without one is refused", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const clientFiles = yield* pemFiles(dir, "client")
          const server = yield* serve([
            "--cert",
            files.cert,
            "--key",
            files.key,
            "--ca",
            files.ca,
            "--require-client-cert",
            "-v"
          ])
          const common = ["s_client", "-connect", server.address, "-CAfile", files.ca, "-quiet", "-no_ign_eof"]
          const admitted = yield* run("openssl", [
            ...common,
            "-cert",
            clientFiles.cert,
            "-cert_chain",
            clientFiles.cert,
            "-key",
            clientFiles.key
          ])
          yield* admitted.write("with cert\n")
          yield* admitted.waitFor("stdout", /with cert\n/)
          yield* admitted.endInput
          yield* admitted.exited()
          const refused = yield* run("openssl", common)
          yield* refused.write("without cert\n")
          yield* refused.endInput
          yield* refused.exited()
          assert.notInclude(refused.stdoutText(), "without cert")
        })
      )
    )
  )

  it.live("a KeyUpdate from s_client (K) in the middle of an echo session", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serve(["-v"])
          const client = yield* run("openssl", [
            "s_client",
            "-connect",
            server.address,
            "-CAfile",
            server.caPath ?? "",
            "-no_ign_eof"
          ])
          yield* client.waitFor("stdout", /Verify return code: 0 \(ok\)/)
          yield* client.write("before\n")
          yield* client.waitFor("stdout", /^before$/m)
          yield* client.write("K\n")
          yield* client.waitFor("stderr", /KEYUPDATE/)
          yield* client.write("after\n")
          yield* client.waitFor("stdout", /^after$/m)
          yield* client.endInput
          yield* client.exited()
          yield* server.proc.waitFor("stderr", /connection #1: .*received=13 sent=13 ended=clean/)
        })
      )
    )
  )
})

describe.skipIf(!gnutls)("gnutls", () => {
  it.live("serve against gnutls-cli: the echo comes back", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const server = yield* serve(["-v"])
          const client = yield* run("gnutls-cli", [
            "--x509cafile",
            server.caPath ?? "",
            "-p",
            String(server.port),
            "localhost"
          ])
          yield* client.write("hello from gnutls\n")
          yield* client.waitFor("stdout", /^hello from gnutls$/m)
          yield* client.endInput
          const exit = yield* client.exited()
          assert.strictEqual(exit.code, 0, client.stderr())
          yield* server.proc.waitFor(
            "stderr",
            /connection #1: peer=127\.0\.0\.1:\d+ TLSv1\.3 .*received=18 sent=18 ended=clean/
          )
        })
      )
    )
  )

  it.live.skipIf(!namespaces)("connect against gnutls-serv --echo (in its own network namespace), both engines", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const port = yield* freePort
          const server = yield* run("unshare", [
            "-n",
            "sh",
            "-c",
            `ip link set lo up && exec gnutls-serv --echo -p ${port} --x509certfile ${files.cert} --x509keyfile ${files.key}`
          ])
          yield* server.waitFor("stderr", /listening on IPv4 .*done/)
          for (const engine of ["native", "duplex"]) {
            const client = yield* run("nsenter", [
              `--net=/proc/${server.child.pid}/ns/net`,
              "--",
              process.execPath,
              binPath,
              "connect",
              `127.0.0.1:${port}`,
              "--ca",
              files.ca,
              "--engine",
              engine
            ])
            yield* client.write("hello gnutls\n")
            yield* client.waitFor("stdout", /^hello gnutls\n$/)
            yield* client.endInput
            const exit = yield* client.exited()
            assert.strictEqual(exit.code, 0, client.stderr())
            assert.strictEqual(client.stdoutText(), "hello gnutls\n")
            assert.match(client.stderr(), /verified=yes/)
          }
        })
      )
    )
  )
})

describe("connect --starttls smtp", () => {
  it.live("speaks the SMTP prologue, upgrades, and carries SMTP over TLS", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const port = yield* smtpServer(files, true)
          const result = yield* cliToEnd(
            ["connect", `localhost:${port}`, "--ca", files.ca, "--starttls", "smtp"],
            "EHLO client\r\nQUIT\r\n"
          )
          assert.strictEqual(result.code, 0, result.stderr)
          assert.strictEqual(result.stdoutText, "250 secure hello\r\n221 bye\r\n", "only what was said over TLS")
          assert.match(result.stderr, session)
        })
      )
    )
  )

  it.live("a server that does not offer STARTTLS: exit 4, nothing sent in plaintext after EHLO", () =>
    bounded(
      Effect.scoped(
        Effect.gen(function* () {
          const dir = yield* tempDir
          const files = yield* pemFiles(dir, "server")
          const port = yield* smtpServer(files, false)
          const result = yield* cliToEnd(
            ["connect", `localhost:${port}`, "--ca", files.ca, "--starttls", "smtp"],
            "secret"
          )
          assert.strictEqual(result.code, 4, result.stderr)
          assert.match(result.stderr, /^error: StarttlsError: NotOffered: /m)
        })
      )
    )
  )
})

/**
 * A minimal SMTP server for the STARTTLS prologue: greeting, EHLO (offering
 * STARTTLS or not), STARTTLS, then TLS on the same socket, where it answers
 * EHLO and QUIT and closes with close_notify.
 */
const smtpServer = (files: { readonly cert: string; readonly key: string }, offer: boolean) =>
  Effect.acquireRelease(
    Effect.callback<{ server: net.Server; sockets: Set<net.Socket>; port: number }>((resume) => {
      const sockets = new Set<net.Socket>()
      const context = tls.createSecureContext({ cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) })
      const server = net.createServer((raw) => {
        sockets.add(raw)
        raw.on("error", () => {})
        raw.on("close", () => sockets.delete(raw))
        raw.write("220 test ESMTP\r\n")
        let buffered = ""
        const onData = (chunk: Buffer) => {
          buffered += chunk.toString("latin1")
          for (let end = buffered.indexOf("\r\n"); end >= 0; end = buffered.indexOf("\r\n")) {
            const command = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            if (/^EHLO /i.test(command)) {
              raw.write(offer ? "250-test\r\n250-PIPELINING\r\n250 STARTTLS\r\n" : "250-test\r\n250 PIPELINING\r\n")
            } else if (/^STARTTLS$/i.test(command)) {
              raw.removeListener("data", onData)
              raw.write("220 go ahead\r\n", () => upgrade(raw))
              return
            } else {
              raw.write("500 unexpected\r\n")
              raw.end()
            }
          }
        }
        raw.on("data", onData)
      })
      const upgrade = (raw: net.Socket) => {
        const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context })
        secure.on("error", () => {})
        let buffered = ""
        secure.on("data", (chunk: Buffer) => {
          buffered += chunk.toString("latin1")
          for (let end = buffered.indexOf("\r\n"); end >= 0; end = buffered.indexOf("\r\n")) {
            const command = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            if (/^EHLO /i.test(command)) secure.write("250 secure hello\r\n")
            else if (/^QUIT$/i.test(command)) secure.end("221 bye\r\n")
          }
        })
      }
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, sockets, port: (server.address() as net.AddressInfo).port }))
      )
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ port }) => port))
