/**
 * Every option of the client and the server, tried with bad values and a
 * good one: a bad value fails `TlsConfigError` naming the option (`path`),
 * before any connection, and never throws, hangs or is accepted; a good
 * value connects. The rows are also the options table of `docs/errors.md`:
 * the last test checks that the table lists exactly these options.
 */
import { createPrivateKey } from "node:crypto"
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as TlsConfig from "@effect-tls/core/TlsConfig"
import type { TlsError } from "@effect-tls/core/TlsError"
import * as EffectSocket from "@effect-tls/node/EffectSocket"
import * as NodeTls from "@effect-tls/node/NodeTls"
import * as NodeTransport from "@effect-tls/node/NodeTransport"
import * as Plaintext from "@effect-tls/node/Plaintext"
import * as TlsOptions from "@effect-tls/node/TlsOptions"
import { CertificateAuthority } from "@effect-tls/test"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { credential, testServer } from "./helpers.ts"

/** What a test needs to build the options: a server's certificate, a client's, another PKI's. */
interface Material {
  readonly server: CertificateAuthority.Issued
  readonly client: CertificateAuthority.Issued
  readonly stranger: CertificateAuthority.Issued
}

/** The option an error names, or what else it was. */
const pathOf = (error: TlsError): string => {
  if (error._tag !== "TlsConfigError") return `${error._tag}/${error.reason._tag}: ${error.message}`
  const reason = error.reason
  return reason._tag === "InvalidArgument" ? reason.argument : reason.path
}

/** Bad bounds; "banana" is refused by the types, and passed as JavaScript (or a cast) would. */
const durations: ReadonlyArray<Duration.Input> = [
  "banana" as Duration.Input,
  0,
  "0 seconds",
  -5,
  "-5 seconds",
  Number.NaN,
  Number.POSITIVE_INFINITY
]
const byteCounts = [0, -1, 1.5, Number.NaN] as const

/** An encrypted copy of a key, with its passphrase. */
const encrypted = (key: string) =>
  createPrivateKey(key).export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "right" }).toString()

/**
 * The options of one row: bad values are written as JavaScript would pass
 * them (of any type), good ones as the types allow.
 */
type Input = Readonly<Record<string, unknown>>

interface Row<O> {
  /** The option's path, as the error names it and the table lists it. */
  readonly path: string
  readonly bad: (m: Material) => ReadonlyArray<Input>
  readonly good: (m: Material) => Partial<O>
}

/** `{ a: { b: value } }` for the path `a.b`. */
const at = (path: string, value: unknown): Input =>
  path
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Input

/** A row whose bad values are set at its path (`keylog.file`). */
const row = <O>(path: string, bad: ReadonlyArray<unknown>, good: Partial<O> = {}): Row<O> => ({
  path,
  bad: () => bad.map((value) => at(path, value)),
  good: () => good
})

const connection = (name: string, bad: ReadonlyArray<unknown>, good: unknown): Row<never> => ({
  path: `connection.${name}`,
  bad: () => bad.map((value) => ({ connection: { [name]: value } })),
  good: () => ({ connection: { [name]: good } }) as Partial<never>
})

const notBooleans = ["yes", 1, null] as const
const notStrings = [5, true, {}] as const

const connectionRows = [
  connection("handshakeTimeout", durations, "5 seconds"),
  connection("closeTimeout", durations, "2 seconds"),
  connection("readBufferBytes", byteCounts, 16 * 1024),
  connection("writeBufferBytes", byteCounts, 16 * 1024),
  connection("controlBufferBytes", byteCounts, 16 * 1024),
  connection("eventBufferSize", byteCounts, 64)
]

/** What both sides take, checked the same way on each. */
const commonRows: ReadonlyArray<Row<TlsOptions.CommonOptions>> = [
  row("insecureMinVersion", notBooleans),
  row("keylog.file", notStrings),
  row("keylog.events", notBooleans, { keylog: { events: true } })
]

/** The client's options (of `NodeTls.connect`); `port` is the target's. */
const clientRows: ReadonlyArray<Row<NodeTls.ConnectOptions>> = [
  { path: "port", bad: () => [{ port: 70000 }, { port: -1 }, { port: 0 }, { port: 1.5 }], good: () => ({}) },
  {
    path: "connectTimeout",
    bad: () => durations.map((connectTimeout) => ({ connectTimeout })),
    good: () => ({ connectTimeout: "5 seconds" })
  },
  ...connectionRows,
  ...commonRows,
  row("host", notStrings),
  row("systemCa", notBooleans, { systemCa: true }),
  row("servername", notStrings, { servername: "localhost" }),
  row("insecureSkipVerify", notBooleans, { insecureSkipVerify: true }),
  row("insecureSkipHostnameCheck", notBooleans, { insecureSkipHostnameCheck: true }),
  row("requestOcsp", notBooleans, { requestOcsp: true }),
  row("sessionCache", notBooleans, { sessionCache: false }),
  row("path", ["fast", 1], { path: "duplex" }),
  {
    path: "minVersion",
    bad: () => [{ minVersion: "TLSv9" as TlsOptions.TlsVersion }, { minVersion: "TLSv1" }],
    good: () => ({ minVersion: "TLSv1.3" })
  },
  {
    path: "maxVersion",
    bad: () => [{ maxVersion: "SSLv3" as TlsOptions.TlsVersion }, { minVersion: "TLSv1.3", maxVersion: "TLSv1.2" }],
    good: () => ({ maxVersion: "TLSv1.3" })
  },
  { path: "alpn[0]", bad: () => [{ alpn: [""] }, { alpn: ["x".repeat(256)] }], good: () => ({ alpn: ["h2"] }) },
  {
    path: "ciphers",
    bad: () => [{ maxVersion: "TLSv1.2", ciphers: "NO-SUCH-CIPHER" }],
    good: () => ({ ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256" })
  },
  { path: "groups", bad: () => [{ groups: "no-such-group" }], good: () => ({ groups: "X25519:P-256" }) },
  {
    path: "pinnedSpkiSha256[0]",
    bad: () => [{ pinnedSpkiSha256: ["not a pin"] }],
    good: () => ({})
  },
  {
    path: "ca",
    bad: (m) => [
      { ca: "garbage" },
      { ca: "" },
      { ca: "/etc/ssl/certs/ca-certificates.crt" },
      { ca: m.server.key },
      { ca: m.server.ca.replace(/[A-Za-z0-9+/]{20}\n/, "!!!!!!!!!!!!!!!!!!!!\n") }
    ],
    good: (m) => ({ ca: m.server.ca })
  },
  {
    path: "credential.cert",
    bad: (m) => [
      { credential: { cert: "./client.pem", key: m.client.redactedKey } },
      { credential: { cert: "x", key: m.client.redactedKey } }
    ],
    good: (m) => ({ credential: credential(m.client) })
  },
  {
    path: "credential.key",
    bad: (m) => [
      { credential: { cert: m.client.chain, key: Redacted.make("/keys/client.key") } },
      { credential: { cert: m.client.chain, key: Redacted.make("garbage") } },
      { credential: { cert: m.client.chain, key: m.stranger.redactedKey } }
    ],
    good: (m) => ({ credential: credential(m.client) })
  },
  {
    path: "credential.passphrase",
    bad: (m) => [
      { credential: { cert: m.client.chain, key: Redacted.make(encrypted(m.client.key)) } },
      {
        credential: {
          cert: m.client.chain,
          key: Redacted.make(encrypted(m.client.key)),
          passphrase: Redacted.make("wrong")
        }
      }
    ],
    good: (m) => ({
      credential: {
        cert: m.client.chain,
        key: Redacted.make(encrypted(m.client.key)),
        passphrase: Redacted.make("right")
      }
    })
  }
]

/** The server's options (of `NodeTls.serve`). */
const serverRows: ReadonlyArray<Row<TlsOptions.ServerOptions>> = [
  { path: "port", bad: () => [{ port: 70000 }, { port: -1 }, { port: 1.5 }], good: () => ({ port: 0 }) },
  {
    path: "maxConnections",
    bad: () => [{ maxConnections: 0 }, { maxConnections: -5 }, { maxConnections: 1.5 }],
    good: () => ({ maxConnections: 10 })
  },
  {
    path: "idleTimeout",
    bad: () => durations.map((idleTimeout) => ({ idleTimeout })),
    good: () => ({ idleTimeout: "1 minute" })
  },
  {
    path: "shutdownTimeout",
    bad: () => durations.map((shutdownTimeout) => ({ shutdownTimeout })),
    good: () => ({ shutdownTimeout: "1 second" })
  },
  {
    path: "sessionCacheSize",
    bad: () => [{ sessionCacheSize: -1 }, { sessionCacheSize: 1.5 }, { sessionCacheSize: Number.NaN }],
    good: () => ({ sessionCacheSize: 0 })
  },
  ...connectionRows,
  ...commonRows,
  row("minVersion", ["TLSv9", "TLSv1.1"], { minVersion: "TLSv1.3" }),
  row("maxVersion", ["SSLv3", 1.3], { maxVersion: "TLSv1.3" }),
  { path: "alpn[0]", bad: () => [{ alpn: [""] }, { alpn: ["x".repeat(256)] }], good: () => ({ alpn: ["h2"] }) },
  row("ciphers", [5], {}),
  row("groups", [5], { groups: "X25519:P-256" }),
  row("tickets", notBooleans, { tickets: false }),
  row("path", ["fast", 1], { path: "duplex" }),
  row("sni", [5, "example.com"], { sni: {} }),
  row("resolveSni", [5, "lookup"], { resolveSni: () => Effect.succeed(undefined) }),
  row("host", notStrings, { host: "127.0.0.1" }),
  row("handlerFailureLogLevel", ["Loud", 3], { handlerFailureLogLevel: "None" }),
  row("onHandshakeFailure", [5], { onHandshakeFailure: () => Effect.void }),
  row("clientAuth.mode", ["maybe"]),
  { path: "credentials", bad: () => [{ credentials: [] }], good: () => ({}) },
  {
    path: "credentials[0].cert",
    bad: (m) => [
      { credentials: [{ cert: "/etc/tls/server.crt", key: m.server.redactedKey }] },
      { credentials: [{ cert: m.server.key, key: m.server.redactedKey }] }
    ],
    good: () => ({})
  },
  {
    path: "credentials[0].key",
    bad: (m) => [{ credentials: [{ cert: m.server.chain, key: m.stranger.redactedKey }] }],
    good: () => ({})
  },
  {
    path: "credentials[0].passphrase",
    bad: (m) => [{ credentials: [{ cert: m.server.chain, key: Redacted.make(encrypted(m.server.key)) }] }],
    good: (m) => ({
      credentials: [
        { cert: m.server.chain, key: Redacted.make(encrypted(m.server.key)), passphrase: Redacted.make("right") }
      ]
    })
  },
  {
    path: "clientAuth.ca",
    bad: () => [{ clientAuth: { mode: "require", ca: "garbage" } }],
    good: (m) => ({ clientAuth: { mode: "request", ca: m.client.ca } })
  }
]

const material = Effect.gen(function* () {
  const pki = yield* CertificateAuthority.make()
  return {
    server: yield* pki.issueServer(),
    client: yield* pki.issueClient(),
    // Another key type: the test PKI shares one key per type between its certificates.
    stranger: yield* CertificateAuthority.issueServer({ keyType: "RSA-2048" })
  } satisfies Material
})

/** A bad value's failure, within a bound: a value that is accepted, or hangs, fails the test. */
const refusal = <A>(effect: Effect.Effect<A, TlsError, Scope.Scope>, what: string) =>
  Effect.scoped(
    Effect.matchEffect(effect, {
      onFailure: Effect.succeed,
      onSuccess: () => Effect.die(`${what}: accepted`)
    })
  ).pipe(
    Effect.timeout("5 seconds"),
    Effect.catchTag("TimeoutError", () => Effect.die(`${what}: neither refused nor accepted within 5 seconds`))
  )

describe("options: a bad value is a TlsConfigError naming it; a good one passes", () => {
  it.live("client options", () =>
    Effect.gen(function* () {
      const m = yield* material
      // Reads to the end, then closes: each good connection's close completes at once.
      const server = yield* NodeTls.serve({ credentials: [credential(m.server)], shutdownTimeout: "1 second" }, (tls) =>
        Effect.asVoid(Effect.repeat(tls.reader.read, { while: Option.isSome, times: 1000 }))
      )
      const base: NodeTls.ConnectOptions = {
        host: "127.0.0.1",
        port: server.address.port,
        ca: m.server.ca,
        servername: "localhost"
      }
      for (const row of clientRows) {
        for (const bad of row.bad(m)) {
          const what = `${row.path} = ${JSON.stringify(bad)}`
          // Passed as JavaScript would: the types refuse most of these.
          const error = yield* refusal(NodeTls.connect({ ...base, ...bad } as NodeTls.ConnectOptions), what)
          assert.strictEqual(pathOf(error), row.path, what)
          assert.include(error.message, row.path, what)
        }
        const connected = yield* Effect.scoped(
          Effect.map(NodeTls.connect({ ...base, ...row.good(m) }), (tls) => tls.session.protocol)
        )
        assert.include(connected, "TLS", `${row.path}: the good value connects`)
      }
    }).pipe(Effect.scoped)
  )

  it.live("server options", () =>
    Effect.gen(function* () {
      const m = yield* material
      const base: TlsOptions.ServerOptions = { credentials: [credential(m.server)], shutdownTimeout: "100 millis" }
      for (const row of serverRows) {
        for (const bad of row.bad(m)) {
          const what = `${row.path} = ${JSON.stringify(bad)}`
          const error = yield* refusal(
            // Passed as JavaScript would: the types refuse most of these.
            NodeTls.serve({ ...base, ...bad } as TlsOptions.ServerOptions, () => Effect.void),
            what
          )
          assert.strictEqual(pathOf(error), row.path, what)
        }
        yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* NodeTls.serve({ ...base, ...row.good(m) }, () => Effect.void)
            yield* Effect.scoped(
              NodeTls.connect({
                host: "127.0.0.1",
                port: server.address.port,
                ca: m.server.ca,
                servername: "localhost",
                credential: credential(m.client)
              })
            )
          })
        )
      }
    })
  )

  it.live('read arguments: readExactly(-1), readUntil("") fail InvalidArgument; the connection goes on', () =>
    Effect.gen(function* () {
      const m = yield* material
      const { port, accept } = yield* testServer({ credentials: [credential(m.server)] })
      const tls = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: m.server.ca, servername: "localhost" })
      const server = yield* accept
      const refused = [
        ["readExactly(n)", tls.reader.readExactly(-1)],
        ["readExactly(n)", tls.reader.readExactly(1.5)],
        ["readUntil(delimiter)", tls.reader.readUntil("")],
        ["readUntil(delimiter, { maxBytes })", tls.reader.readUntil("\n", { maxBytes: -1 })]
      ] as const
      for (const [argument, read] of refused) {
        const error = yield* Effect.flip(read)
        assert.strictEqual(pathOf(error), argument)
      }
      yield* server.writer.write("still here\n")
      assert.strictEqual(new TextDecoder().decode(yield* tls.reader.readUntil("\n")), "still here")
    }).pipe(Effect.scoped)
  )

  it.live("transport and STARTTLS options: NodeTransport.connect, the buffer bounds, Plaintext.make", () =>
    Effect.gen(function* () {
      const m = yield* material
      const { port, accept } = yield* testServer({ credentials: [credential(m.server)] })
      const tls = yield* NodeTls.connect({ host: "127.0.0.1", port, ca: m.server.ca, servername: "localhost" })
      yield* accept
      const tried: ReadonlyArray<readonly [string, Effect.Effect<unknown, TlsError, Scope.Scope>]> = [
        ...[70000, 0, -1, 1.5].map((bad) => ["port", NodeTransport.connect({ port: bad })] as const),
        ...durations.map((bad) => ["connectTimeout", NodeTransport.connect({ port, connectTimeout: bad })] as const),
        ["family", NodeTransport.connect({ port, family: 5 as 4 })],
        ...byteCounts.flatMap((bad) => [
          ["readBufferBytes", NodeTransport.fromTlsConnection(tls, { readBufferBytes: bad })] as const,
          [
            "writeBufferBytes",
            EffectSocket.toTransport(EffectSocket.fromTlsConnection(tls), { writeBufferBytes: bad })
          ] as const
        ]),
        ...durations.map(
          (bad) =>
            [
              "idleTimeout",
              Effect.flatMap(NodeTransport.connect({ port }), (t) => Plaintext.make(t, { idleTimeout: bad }))
            ] as const
        )
      ]
      for (const [path, effect] of tried) {
        const error = yield* refusal(effect, path)
        assert.strictEqual(pathOf(error), path, `${path}: ${error.message}`)
      }
      // The good values.
      const transport = yield* NodeTransport.connect({ port, family: 4, connectTimeout: "5 seconds" })
      yield* Plaintext.make(transport, { idleTimeout: "1 second" })
      yield* NodeTransport.fromTlsConnection(tls, { readBufferBytes: 1024, writeBufferBytes: 1024 })
    }).pipe(Effect.scoped)
  )

  it("docs/errors.md's options tables list exactly the schemas' options, and this test tries each", () => {
    const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8")
    const section = doc.slice(doc.indexOf("## Options"))
    const listed = (title: string) => {
      const start = section.indexOf(title)
      const table = section.slice(start, section.indexOf("\n\n", section.indexOf("| ", start)))
      return [...table.matchAll(/^\| `([^`]+)`/gm)].map((match) => match[1])
    }
    // A list's element is named `alpn[i]` by the error, `alpn` by the schema and the table.
    const tried = (rows: ReadonlyArray<Row<never>>) =>
      rows.map((row) => row.path.replace(/\[0\]$/, "")).filter((path) => !path.startsWith("connection."))
    const outsideConnection = (paths: ReadonlyArray<string>) => paths.filter((path) => !path.startsWith("connection."))
    const connectionPaths = optionPaths(TlsConfig.ConnectionConfig, "connection")
    assert.sameMembers(listed("### Connection"), [...connectionPaths])
    assert.sameMembers(
      connectionRows.map((row) => row.path),
      [...connectionPaths]
    )
    // The client's table adds the target (`host`, `port`) of `NodeTls.connect`.
    const clientPaths = [...outsideConnection(optionPaths(TlsOptions.ClientOptions)), "host", "port"]
    assert.sameMembers(listed("### Client"), clientPaths)
    assert.sameMembers(tried(clientRows as ReadonlyArray<Row<never>>), clientPaths)
    const serverPaths = outsideConnection(optionPaths(TlsOptions.ServerOptions))
    assert.sameMembers(listed("### Server"), serverPaths)
    assert.sameMembers(tried(serverRows as ReadonlyArray<Row<never>>), serverPaths)
  })
})

/** The schema under an optional field, a default, a union with `undefined`: the one a value is checked by. */
const innermost = (schema: unknown): unknown => {
  let current = schema
  for (let depth = 0; depth < 16; depth++) {
    if (Predicate.hasProperty(current, "fields")) return current
    if (Predicate.hasProperty(current, "schema")) current = current.schema
    else if (Predicate.hasProperty(current, "members") && Array.isArray(current.members)) current = current.members[0]
    else if (Predicate.hasProperty(current, "from") && Predicate.hasProperty(current, "to")) {
      current = Predicate.hasProperty(current.to, "fields") ? current.to : current.from
    } else return current
  }
  return current
}

/**
 * Every option a schema takes, by the path its errors name: a struct's
 * fields recursively (`keylog.file`), an array of structs as itself and its
 * elements' fields (`credentials`, `credentials[0].cert`).
 */
const optionPaths = (schema: unknown, prefix = ""): ReadonlyArray<string> => {
  const inner = innermost(schema)
  if (Predicate.hasProperty(inner, "fields") && Predicate.isObject(inner.fields)) {
    return Object.entries(inner.fields).flatMap(([key, field]) =>
      optionPaths(field, prefix === "" ? key : `${prefix}.${key}`)
    )
  }
  if (Predicate.hasProperty(inner, "value") && Predicate.hasProperty(innermost(inner.value), "fields")) {
    return [prefix, ...optionPaths(inner.value, `${prefix}[0]`)]
  }
  return [prefix]
}
