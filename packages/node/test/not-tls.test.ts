/**
 * A peer that does not speak TLS (a wrong port, a plaintext service) is a
 * `TlsHandshakeError` `NotTls`, not `ProtocolVersion`: against a real
 * plaintext HTTP server and an SMTP-like banner, and from plaintext clients
 * hitting our server, on both paths. The duplex path sees the peer's first
 * bytes and names what it spoke; the native path has OpenSSL's verdict only
 * (which names an HTTP request on a server).
 */
import * as http from "node:http"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as NodeTls from "@effect-tls/node/NodeTls"
import type * as TlsOptions from "@effect-tls/node/TlsOptions"
import { Loopback } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { echo, fixture, observedServer, rawClient, sendOnce } from "./reliability-support.ts"

const paths: ReadonlyArray<TlsOptions.Path> = ["native", "duplex"]

/** The reason of a `NotTls` failure, flattened; anything else as its tag and reason. */
const notTls = (error: TlsError) =>
  error._tag === "TlsHandshakeError" && error.reason._tag === "NotTls"
    ? { protocol: error.reason.protocol, detail: error.reason.detail ?? "" }
    : { protocol: `not NotTls: ${error._tag}/${error.reason._tag}`, detail: error.message }

const failureOf = (options: NodeTls.ConnectOptions) =>
  Effect.scoped(Effect.flip(NodeTls.connect(options))).pipe(Effect.timeout("5 seconds"))

describe("a peer that does not speak TLS is NotTls", () => {
  it.live("client: a plaintext HTTP server and an SMTP banner, both paths", () =>
    Effect.gen(function* () {
      const certs = yield* fixture
      const httpPort = yield* Loopback.serve(http.createServer((_request, response) => response.end("hello\n")))
      const smtpPort = yield* Loopback.serve(
        net.createServer((socket) => {
          socket.on("error", () => {})
          socket.end("220 mail.example ESMTP ready\r\n")
        })
      )
      for (const path of paths) {
        const web = notTls(yield* failureOf({ host: "127.0.0.1", port: httpPort, ...certs.client, path }))
        const mail = notTls(yield* failureOf({ host: "127.0.0.1", port: smtpPort, ...certs.client, path }))
        if (path === "duplex") {
          assert.deepStrictEqual(web.protocol, "HTTP", web.detail)
          assert.include(web.detail, "the peer answered in plaintext HTTP")
          assert.include(web.detail, "HTTP/1.1 400")
          assert.deepStrictEqual(mail.protocol, "SMTP", mail.detail)
          assert.include(mail.detail, "220 mail.example ESMTP ready")
        } else {
          for (const seen of [web, mail]) {
            assert.isUndefined(seen.protocol, seen.detail)
            assert.include(seen.detail, "does not speak TLS")
          }
        }
      }
    }).pipe(Effect.scoped)
  )

  it.live("server: a plaintext HTTP request and an SMTP command to our server, both paths", () =>
    Effect.gen(function* () {
      const certs = yield* fixture
      for (const path of paths) {
        const observed = yield* observedServer({ ...certs.server, path, shutdownTimeout: "200 millis" }, echo)
        const failure = (bytes: string) =>
          Effect.gen(function* () {
            yield* rawClient(observed.port, sendOnce(Buffer.from(bytes)), 3_000)
            const error = yield* observed.nextFailure(2_000)
            assert.isTrue(Option.isSome(error), `${path}: the server logged no failure for ${JSON.stringify(bytes)}`)
            return Option.match(error, { onNone: () => ({ protocol: "none", detail: "" }), onSome: notTls })
          })
        const web = yield* failure("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert.strictEqual(web.protocol, "HTTP", `${path}: ${web.detail}`)
        assert.include(web.detail, "plaintext HTTP request")
        const mail = yield* failure("EHLO client.example\r\n")
        if (path === "duplex") {
          assert.strictEqual(mail.protocol, "SMTP", mail.detail)
          assert.include(mail.detail, "EHLO client.example")
        } else {
          assert.isUndefined(mail.protocol, mail.detail)
          assert.include(mail.detail, "does not speak TLS")
        }
      }
    }).pipe(Effect.scoped)
  )
})
