/**
 * The connection's configuration as a Schema, with the defaults of
 * `TlsConnection.defaultOptions`, loadable from Effect's `Config` (environment
 * variables, files, any `ConfigProvider`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/connection/options.ts"
import type { TlsConfigError } from "./TlsError.ts"

/**
 * A bound: a positive, finite duration, from code any `Duration.Input`
 * (milliseconds, `"10 seconds"`, a `Duration`), from configuration a string
 * (`"10 seconds"`); decodes to a `Duration`. Zero, negative and infinite
 * bounds are refused. Every timeout option of the library is one.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Timeout = internal.Timeout

/**
 * The connection's options, the one schema their type, defaults and check
 * derive from: buffer limits in bytes and timeouts (see
 * `TlsConnection.ConnectionOptions`). Its encoded side is what code passes
 * (every field optional); decoding fills in the defaults of
 * `TlsConnection.defaultOptions`. Read from strings by `Config`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConnectionConfig = internal.ConnectionSchema

/**
 * The decoded configuration; assignable to `TlsConnection.ConnectionOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionConfig = typeof ConnectionConfig.Type

/**
 * Reads a {@link ConnectionConfig} from the current `ConfigProvider` under
 * `path`. With the environment provider the keys are the path and the field
 * names as written, joined by `_`: `TLS_readBufferBytes`,
 * `TLS_handshakeTimeout` for the path `"TLS"` (`TLS_READBUFFERBYTES` is not
 * read). A value outside what the option allows is a `ConfigError` naming it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (path?: string): Config.Config<ConnectionConfig> => Config.schema(ConnectionConfig, path)

/**
 * Decodes options with their schema, once, at the API boundary. A failure is
 * a `TlsConfigError` `InvalidOption` whose `path` names the first option that
 * is wrong (under `prefix`, `""` for none), with the value received and
 * what is allowed. The option sets built on the core (the Node client and
 * server) decode theirs with it.
 *
 * @since 0.1.0
 * @category checks
 */
export const decode: <S extends Schema.Codec<unknown, unknown>>(
  schema: S,
  prefix: string
) => (input: unknown) => Effect.Effect<S["Type"], TlsConfigError> = internal.decodeOptions
