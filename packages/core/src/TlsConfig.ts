/**
 * The connection's configuration as a Schema, with the defaults of
 * `TlsConnection.defaultOptions`, loadable from Effect's `Config` (environment
 * variables, files, any `ConfigProvider`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as internal from "./internal/connection/options.ts"

const ByteCount = Schema.Int.check(Schema.isGreaterThan(0))

const withDefault = <S extends Schema.Top & { readonly Encoded: unknown }>(value: S["Encoded"]) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))

/**
 * Buffer limits in bytes and timeouts as durations (`"10 seconds"`,
 * `"500 millis"` when read from strings). Every field is optional and has the
 * default of `TlsConnection.defaultOptions`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConnectionConfig = Schema.Struct({
  readBufferBytes: ByteCount.pipe(withDefault<typeof ByteCount>(internal.defaultOptions.readBufferBytes)),
  writeBufferBytes: ByteCount.pipe(withDefault<typeof ByteCount>(internal.defaultOptions.writeBufferBytes)),
  controlBufferBytes: ByteCount.pipe(withDefault<typeof ByteCount>(internal.defaultOptions.controlBufferBytes)),
  eventBufferSize: ByteCount.pipe(withDefault<typeof ByteCount>(internal.defaultOptions.eventBufferSize)),
  handshakeTimeout: Schema.DurationFromString.pipe(withDefault<typeof Schema.DurationFromString>("10 seconds")),
  closeTimeout: Schema.DurationFromString.pipe(withDefault<typeof Schema.DurationFromString>("5 seconds"))
})

/**
 * The decoded configuration; assignable to `TlsConnection.ConnectionOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionConfig = typeof ConnectionConfig.Type

/**
 * Reads a {@link ConnectionConfig} from the current `ConfigProvider` under
 * `path` (for example `TLS_READBUFFERBYTES` with the environment provider and
 * the path `"TLS"`, depending on the provider's naming).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (path?: string): Config.Config<ConnectionConfig> => Config.schema(ConnectionConfig, path)
