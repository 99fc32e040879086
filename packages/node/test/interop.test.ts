/**
 * Interop with real peers (slow; own file): `openssl s_server` as the peer of
 * the native client. The peer sends KeyUpdates in the middle of a transfer.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { closedPort } from "./helpers.ts"

/** A child process killed with the scope, with its stdout collected and awaitable by pattern. */
const child = (command: string, args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const proc = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(command, args, { stdio: "pipe" })),
      (proc) =>
        Effect.callback<void>((resume) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resume(Effect.void)
          proc.once("exit", () => resume(Effect.void))
          proc.kill("SIGKILL")
        })
    )
    const output = { text: "" }
    const waiters = new Set<() => void>()
    // s_server reports some events (KEYUPDATE) on stderr: both are followed.
    const onData = (chunk: Buffer) => {
      output.text += chunk.toString("latin1")
      for (const waiter of waiters) waiter()
    }
    proc.stdout.on("data", onData)
    proc.stderr.on("data", onData)
    const waitFor = (pattern: RegExp, from = 0) =>
      Effect.callback<void>((resume) => {
        const check = () => {
          if (pattern.test(output.text.slice(from))) {
            waiters.delete(check)
            resume(Effect.void)
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(Effect.timeout("10 seconds"))
    return { proc: proc as ChildProcessWithoutNullStreams, output, waitFor }
  })

const tempFiles = (files: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "effect-tls-interop-"))
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("interop: openssl s_server", () => {
  it.live(
    "handshake, ALPN, mutual TLS, and KeyUpdates (k, K) from the server mid-transfer with no loss",
    () =>
      Effect.gen(function* () {
        const server = yield* CertificateAuthority.issueServer()
        const clientCert = yield* CertificateAuthority.issueClient({ commonName: "interop" })
        const dir = yield* tempFiles({
          "cert.pem": server.cert,
          "chain.pem": server.chain,
          "key.pem": server.key,
          "ca.pem": server.ca
        })
        const port = yield* closedPort
        // s_server reports the KeyUpdate with printf: line-buffer its stdout, or the report sits in a pipe buffer.
        const openssl = yield* child("stdbuf", [
          "-oL",
          "openssl",
          "s_server",
          "-accept",
          `127.0.0.1:${port}`,
          "-naccept",
          "1",
          "-cert",
          join(dir, "cert.pem"),
          "-cert_chain",
          join(dir, "chain.pem"),
          "-key",
          join(dir, "key.pem"),
          "-CAfile",
          join(dir, "ca.pem"),
          "-Verify",
          "2",
          "-alpn",
          "interop/1",
          "-tls1_3"
        ])
        yield* openssl.waitFor(/ACCEPT/)
        const connection = yield* NodeTls.connect({
          host: "127.0.0.1",
          port,
          ca: server.ca,
          servername: "localhost",
          alpn: ["interop/1"],
          credential: { cert: clientCert.chain, key: Redacted.make(clientCert.key) }
        })
        assert.strictEqual(connection.session.alpn, "interop/1")
        assert.strictEqual(connection.session.protocol, "TLSv1.3")

        // Lines that never start with an s_server command letter.
        const line = `${"x".repeat(1023)}\n`
        const part = line.repeat(1024) // 1 MiB
        let received = 0
        const readAtLeast = (target: number) =>
          Effect.gen(function* () {
            for (let i = 0; i < 100_000 && received < target; i++) {
              const chunk = yield* connection.reader.read
              if (Option.isNone(chunk)) return
              assert.isTrue(chunk.value.every((byte) => byte === 0x78 || byte === 0x0a))
              received += chunk.value.length
            }
          })
        const send = (text: string) =>
          Effect.callback<void>((resume) => {
            openssl.proc.stdin.write(text, () => resume(Effect.void))
          })
        let expected = 0
        for (const command of ["k\n", "K\n", "k\n"]) {
          yield* send(part)
          expected += part.length
          yield* readAtLeast(expected)
          assert.strictEqual(received, expected)
          const from = openssl.output.text.length
          yield* send(command)
          // OpenSSL 3.0 prints the result of the handshake step that sent it; later versions print KEYUPDATE.
          yield* openssl.waitFor(/KEYUPDATE|SSL_do_handshake -> 1/, from)
          // The client keeps writing while the keys change under it.
          yield* connection.writer.write("client data after a KeyUpdate\n")
          yield* openssl.waitFor(/client data after a KeyUpdate/, from)
        }
        yield* send(part)
        expected += part.length
        yield* readAtLeast(expected)
        assert.strictEqual(received, expected)
      }).pipe(Effect.scoped),
    30_000
  )
})
