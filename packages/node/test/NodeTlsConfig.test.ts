import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
import * as NodeTlsConfig from "@effect-tls/node/NodeTlsConfig"
import * as NodeTlsServer from "@effect-tls/node/NodeTlsServer"
import * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** A temporary directory removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-tls-config-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("NodeTlsConfig", () => {
  it.live("loads server and client options from environment variables (files and PEM), then they connect", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const dir = yield* tempDir
      const keyFile = join(dir, "server.key")
      const caFile = join(dir, "ca.pem")
      writeFileSync(keyFile, issued.key, { mode: 0o600 })
      writeFileSync(caFile, issued.ca)
      const provider = ConfigProvider.fromEnv({
        env: {
          SRV_credentials_0_cert: issued.chain,
          SRV_credentials_0_key: keyFile,
          SRV_alpn: "h2, http/1.1",
          SRV_minVersion: "TLSv1.3",
          SRV_idleTimeout: "30 seconds",
          SRV_shutdownTimeout: "100 millis",
          SRV_maxConnections: "8",
          SRV_path: "duplex",
          SRV_connection_handshakeTimeout: "2 seconds",
          CLI_ca: caFile,
          CLI_servername: "localhost",
          CLI_alpn: "http/1.1",
          CLI_connectTimeout: "3 seconds",
          CLI_sessionCache: "false"
        }
      })
      const serverOptions = yield* NodeTlsConfig.server("SRV").parse(provider)
      const clientOptions = yield* NodeTlsConfig.client("CLI").parse(provider)

      const key = serverOptions.credentials[0]?.key
      assert.isTrue(key !== undefined && Redacted.isRedacted(key))
      // Read from the file, and hidden from logs and String().
      assert.strictEqual(key === undefined ? "" : Redacted.value(key), issued.key)
      assert.notInclude(String(key), "PRIVATE KEY")
      assert.deepStrictEqual(serverOptions.alpn, ["h2", "http/1.1"])
      assert.strictEqual(serverOptions.maxConnections, 8)
      assert.strictEqual(serverOptions.path, "duplex")
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(serverOptions.idleTimeout ?? 0)), 30_000)
      // The core connection schema fills the defaults of what is not set.
      assert.strictEqual(
        Duration.toMillis(Duration.fromInputUnsafe(serverOptions.connection?.handshakeTimeout ?? 0)),
        2000
      )
      assert.strictEqual(serverOptions.connection?.readBufferBytes, 64 * 1024)
      assert.strictEqual(clientOptions.ca, issued.ca)
      assert.strictEqual(clientOptions.sessionCache, false)

      const server = yield* NodeTls.serve(serverOptions, (connection) =>
        Effect.andThen(connection.writer.write("configured"), connection.writer.end)
      )
      const client = yield* NodeTlsClient.make(clientOptions)
      const connection = yield* client.connect({ host: "127.0.0.1", port: server.address.port })
      assert.strictEqual(connection.session.alpn, "http/1.1")
      assert.strictEqual(connection.session.protocol, "TLSv1.3")
      assert.isTrue(connection.session.peerVerified)
      const chunk = yield* connection.reader.read
      assert.strictEqual(Buffer.from(Option.getOrThrow(chunk)).toString(), "configured")
    }).pipe(Effect.scoped)
  )

  it.live("NodeTlsClient.layerConfig builds the client service from a structured provider", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const server = yield* NodeTls.serve(
        {
          credentials: [{ cert: issued.chain, key: issued.redactedKey }],
          alpn: ["http/1.1", "h2"],
          shutdownTimeout: "100 millis"
        },
        (connection) => connection.writer.end
      )
      const provider = ConfigProvider.fromUnknown({ tls: { ca: issued.ca, alpn: ["h2"], minVersion: "TLSv1.2" } })
      const session = yield* NodeTlsClient.NodeTlsClient.use((client) =>
        client.connect({ host: "127.0.0.1", port: server.address.port })
      ).pipe(
        Effect.map((connection) => connection.session),
        Effect.provide(NodeTlsClient.layerConfig(NodeTlsConfig.client("tls"))),
        Effect.provideService(ConfigProvider.ConfigProvider, provider)
      )
      assert.isTrue(session.peerVerified)
      // The offer came from the provider's array.
      assert.strictEqual(session.alpn, "h2")
    }).pipe(Effect.scoped)
  )

  it.effect("rejects what cannot be loaded: a missing file, an unknown version, no credentials", () =>
    Effect.gen(function* () {
      const missing = yield* NodeTlsConfig.client("tls")
        .parse(ConfigProvider.fromUnknown({ tls: { ca: "/nonexistent/ca.pem" } }))
        .pipe(Effect.flip)
      assert.strictEqual(missing._tag, "ConfigError")
      assert.include(String(missing), "neither PEM text nor a readable PEM file")
      const version = yield* NodeTlsConfig.client("tls")
        .parse(ConfigProvider.fromUnknown({ tls: { minVersion: "SSLv3" } }))
        .pipe(Effect.flip)
      assert.strictEqual(version._tag, "ConfigError")
      const none = yield* NodeTlsConfig.server("tls")
        .parse(ConfigProvider.fromUnknown({ tls: { credentials: [] } }))
        .pipe(Effect.flip)
      assert.strictEqual(none._tag, "ConfigError")
      // The checks across fields are the code options' too.
      const old = yield* NodeTlsConfig.client("tls")
        .parse(ConfigProvider.fromEnv({ env: { tls_minVersion: "TLSv1" } }))
        .pipe(Effect.flip)
      assert.include(String(old), "insecureMinVersion")
      const alpn = yield* NodeTlsConfig.client("tls")
        .parse(ConfigProvider.fromEnv({ env: { tls_alpn: `h2,${"x".repeat(256)}` } }))
        .pipe(Effect.flip)
      assert.include(String(alpn), "1 to 255 bytes")
    })
  )

  it("configuration carries every option of code but the functions and the per-name certificates", () => {
    const codeOnly = ["sni", "resolveSni", "onHandshakeFailure"]
    assert.sameMembers(Object.keys(NodeTlsConfig.ClientConfig.fields), Object.keys(TlsOptions.ClientOptions.fields))
    assert.sameMembers(
      Object.keys(NodeTlsConfig.ServerConfig.fields),
      Object.keys(TlsOptions.ServerOptions.fields).filter((name) => !codeOnly.includes(name))
    )
  })

  it.effect("decodes to the defaults of code: what configuration leaves out is what code leaves out", () =>
    Effect.gen(function* () {
      const env = { tls_servername: "api.example" }
      const fromConfig = yield* NodeTlsConfig.client("tls").parse(ConfigProvider.fromEnv({ env }))
      const fromCode = yield* Schema.decodeUnknownEffect(TlsOptions.ClientOptions)({ servername: "api.example" })
      assert.deepStrictEqual(fromConfig, fromCode)
    })
  )

  it.live("NodeTlsServer.layerConfig serves with options read from the environment (a key file path)", () =>
    Effect.gen(function* () {
      const issued = yield* CertificateAuthority.issueServer()
      const dir = yield* tempDir
      const keyFile = join(dir, "server.key")
      writeFileSync(keyFile, issued.key, { mode: 0o600 })
      const provider = ConfigProvider.fromEnv({
        env: { TLS_credentials_0_cert: issued.chain, TLS_credentials_0_key: keyFile, TLS_shutdownTimeout: "100 millis" }
      })
      const server = yield* Layer.build(
        NodeTlsServer.layerConfig(NodeTlsConfig.server("TLS"), (connection) => connection.writer.write("hello\n"))
      ).pipe(
        Effect.map(Context.get(NodeTlsServer.NodeTlsServer)),
        Effect.provideService(ConfigProvider.ConfigProvider, provider)
      )
      const tls = yield* NodeTls.connect({
        host: "127.0.0.1",
        port: server.address.port,
        ca: issued.ca,
        servername: "localhost"
      })
      assert.strictEqual(new TextDecoder().decode(yield* tls.reader.readUntil("\n")), "hello")
      const refused = yield* Layer.build(
        NodeTlsServer.layerConfig(NodeTlsConfig.server("TLS"), () => Effect.void)
      ).pipe(
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromEnv({
            env: { TLS_credentials_0_cert: issued.chain, TLS_credentials_0_key: keyFile, TLS_idleTimeout: "0 seconds" }
          })
        ),
        Effect.flip
      )
      assert.strictEqual(refused._tag, "ConfigError")
      assert.include(String(refused), "idleTimeout")
    }).pipe(Effect.scoped)
  )
})
