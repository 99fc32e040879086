/**
 * The client's and the server's options as Schemas, loadable from Effect's
 * `Config` (environment variables, files, any `ConfigProvider`). They are
 * made of the same fields as the code options (`TlsOptions`), with the same
 * checks and defaults: every option but those only code can give (an SNI
 * resolver, certificates per name, the handshake-failure callback), which
 * are added to the decoded options in code.
 *
 * Certificates, keys and CA bundles are PEM text or the path of a PEM file,
 * read when the configuration is decoded. Keys and passphrases decode to
 * `Redacted` and are never encoded back. Lists (ALPN) are arrays or
 * comma-separated strings; durations are strings such as `"10 seconds"`.
 *
 * ```ts
 * import * as NodeTlsClient from "@effect-tls/node/NodeTlsClient"
 * import * as NodeTlsConfig from "@effect-tls/node/NodeTlsConfig"
 *
 * // With the environment provider, keys are the path joined by `_`:
 * // TLS_ca=/etc/ssl/ca.pem TLS_alpn=h2,http/1.1 TLS_connection_handshakeTimeout="5 seconds"
 * export const layer = NodeTlsClient.layerConfig(NodeTlsConfig.client("TLS"))
 * ```
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Options from "./internal/options.ts"
import type * as TlsOptions from "./TlsOptions.ts"

const PEM_START = "-----BEGIN "

/** PEM text as given, or the content of the file it names. */
const readPem = (value: string): Effect.Effect<string, SchemaIssue.Issue> =>
  value.trimStart().startsWith(PEM_START)
    ? Effect.succeed(value)
    : Effect.try({
        try: () => readFileSync(value, "utf8"),
        catch: (cause) =>
          new SchemaIssue.InvalidValue({
            message: `neither PEM text nor a readable PEM file: ${cause instanceof Error ? cause.message : String(cause)}`
          })
      }).pipe(
        Effect.filterOrFail(
          (text) => text.includes(PEM_START),
          () => new SchemaIssue.InvalidValue({ message: `${value}: the file holds no PEM block` })
        )
      )

/**
 * A certificate or a CA bundle: PEM text, or the path of a PEM file (read at
 * decoding). Encodes to the PEM text.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Pem = Schema.NonEmptyString.pipe(
  Schema.decodeTo(Schema.String, {
    decode: SchemaGetter.transformEffect(readPem),
    encode: SchemaGetter.passthrough()
  })
)

/**
 * A private key: PEM text or the path of a PEM file, decoded to `Redacted`.
 * It is never encoded back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SecretPem = Schema.NonEmptyString.pipe(
  Schema.decodeTo(Schema.Redacted(Schema.String), {
    decode: SchemaGetter.transformEffect((value: string) => Effect.map(readPem(value), (pem) => Redacted.make(pem))),
    encode: SchemaGetter.forbidden(() => "a private key is not encoded back")
  })
)

/**
 * A secret string (a passphrase), decoded to `Redacted`; never encoded back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Secret = Schema.String.pipe(
  Schema.decodeTo(Schema.Redacted(Schema.String), {
    decode: SchemaGetter.transform((value: string) => Redacted.make(value)),
    encode: SchemaGetter.forbidden(() => "a secret is not encoded back")
  })
)

const commaList = Schema.String.pipe(
  Schema.decodeTo(Schema.Array(Schema.String), {
    decode: SchemaGetter.transform((value: string) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0)
    ),
    encode: SchemaGetter.transform((items: ReadonlyArray<string>) => items.join(","))
  })
)

/**
 * A list of strings: an array, or one comma-separated string (as in an
 * environment variable).
 *
 * @since 0.1.0
 * @category schemas
 */
export const StringList = Schema.Union([Schema.Array(Schema.String), commaList])

/**
 * A TLS protocol version, as Node names it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TlsVersion = Options.TlsVersion

/**
 * The path TLS runs on over TCP (`TlsOptions.Path`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Path = Options.Path

/** Configuration's codecs: PEM text or a file path, secrets from strings, lists from arrays or one string. */
const configCodecs = {
  pem: Pem,
  caBundle: Schema.Union([Pem, Schema.Array(Pem)]),
  secretPem: SecretPem,
  secret: Secret,
  list: StringList
}

const configFields = Options.fieldSets(configCodecs)

/**
 * A certificate chain (leaf first) and its key.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Credential = Options.credential(configCodecs)

/**
 * The client's options that configuration can carry: the fields of
 * `TlsOptions.ClientOptions`, with certificates and keys as PEM text or file
 * paths; decodes to client options with their defaults filled in.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ClientConfig = Schema.Struct(configFields.client).check(Options.versionsCheck)

/**
 * The decoded client configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientConfig = typeof ClientConfig.Type

/**
 * The server's options that configuration can carry: the fields of
 * `TlsOptions.ServerOptions` but the functions (`resolveSni`,
 * `onHandshakeFailure`) and `sni`, with certificates and keys as PEM text or
 * file paths; decodes to server options with their defaults filled in.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerConfig = Schema.Struct({
  ...configFields.serverConnection,
  ...Options.listenerFields
}).check(Options.versionsCheck)

/**
 * The decoded server configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerConfig = typeof ServerConfig.Type

/**
 * Client options read from the current `ConfigProvider` under `path`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (path?: string): Config.Config<TlsOptions.ClientOptions> => Config.schema(ClientConfig, path)

/**
 * Server options read from the current `ConfigProvider` under `path`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const server = (path?: string): Config.Config<TlsOptions.ServerOptions> => Config.schema(ServerConfig, path)
