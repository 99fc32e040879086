/**
 * A connection's options as one Schema, from which their type
 * (`TlsConnection.ConnectionOptions`, the schema's encoded side), their
 * defaults and their check derive; decoded once when the connection is made.
 * The same schema reads them from configuration (`TlsConfig.ConnectionConfig`).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import { InvalidOption, TlsConfigError } from "../../TlsError.ts"
import { DEFAULT_BUFFER_BYTES, DEFAULT_EVENT_BUFFER } from "../constants.ts"
import type { DriverSizes } from "./driver.ts"

/** What a bound accepts, in the words of the error. */
export const DURATION_EXPECTED =
  'a positive finite duration (a number of milliseconds, or a string such as "10 seconds")'

/** A `Duration.Input` as written in code, or a string from configuration. */
const isDurationInput = (u: unknown): u is Duration.Input =>
  typeof u === "string" || typeof u === "number" || typeof u === "bigint" || Duration.isDuration(u) || Array.isArray(u)

const DurationInput = Schema.declare(isDurationInput, {
  expected: DURATION_EXPECTED,
  // From configuration a duration is a string (`"10 seconds"`).
  toCodecStringTree: () =>
    Schema.link<Duration.Input>()(Schema.String, {
      // Any string: `Timeout` decodes it, and refuses one that is not a duration.
      decode: SchemaGetter.transform((text: string) => text as Duration.Input),
      encode: SchemaGetter.transform((input) => (Duration.isDuration(input) ? Duration.format(input) : String(input)))
    })
})

const positiveDuration = (input: Duration.Input): Option.Option<Duration.Duration> => {
  // `Duration.fromInput` throws on some malformed tuples: those are refused too.
  try {
    return Option.filter(Duration.fromInput(input), (d) => Duration.isPositive(d) && Duration.isFinite(d))
  } catch {
    return Option.none()
  }
}

/**
 * A bound: a `Duration.Input` (milliseconds, `"10 seconds"`, a `Duration`)
 * that is positive and finite, decoded to a `Duration`. Zero and negative
 * bounds are refused rather than read as "none" or "expire at once", and so
 * is infinity: every wait of the library is bounded.
 */
export const Timeout = DurationInput.pipe(
  Schema.decodeTo(Schema.Duration, {
    decode: SchemaGetter.transformEffect((input: Duration.Input) =>
      Option.match(positiveDuration(input), {
        onNone: () => Effect.fail(new SchemaIssue.InvalidValue({ message: DURATION_EXPECTED }, input)),
        onSome: Effect.succeed
      })
    ),
    encode: SchemaGetter.transform((duration: Duration.Duration): Duration.Input => duration)
  })
)

/** A count of bytes or items that must be at least one. */
const count = (unit: string) => {
  const expected = `a whole number of ${unit}, 1 or more`
  return Schema.Number.annotate({ expected }).check(
    Schema.makeFilter((n: number) => (Number.isSafeInteger(n) && n > 0) || expected)
  )
}

const Bytes = count("bytes")

/** An optional field (absent or `undefined`) with the encoded default `value`. */
const withDefault = <S extends Schema.Top & { readonly Encoded: unknown }>(value: S["Encoded"]) =>
  Schema.withDecodingDefault<S>(Effect.succeed(value))

/**
 * The connection's options. Encoded: what code passes (every field optional,
 * `undefined` as absent, durations as any `Duration.Input`). Decoded: the
 * options in force, with the defaults filled in.
 */
export const ConnectionSchema = Schema.Struct({
  readBufferBytes: Bytes.pipe(withDefault(DEFAULT_BUFFER_BYTES)),
  writeBufferBytes: Bytes.pipe(withDefault(DEFAULT_BUFFER_BYTES)),
  controlBufferBytes: Bytes.pipe(withDefault(DEFAULT_BUFFER_BYTES)),
  handshakeTimeout: Timeout.pipe(withDefault<typeof Timeout>(Duration.seconds(10))),
  closeTimeout: Timeout.pipe(withDefault<typeof Timeout>(Duration.seconds(5))),
  eventBufferSize: count("events").pipe(withDefault(DEFAULT_EVENT_BUFFER))
})

/** The options as code passes them: the schema's encoded side. */
export type ConnectionInput = typeof ConnectionSchema.Encoded

/** The options in force: the schema's decoded side. */
export type ConnectionValues = typeof ConnectionSchema.Type

/** The defaults, decoded from no options at all. */
export const defaultOptions: ConnectionValues = Schema.decodeSync(ConnectionSchema)({})

/** The default bound on opening the transport, for an engine that opens its own (`Engine.connectingTo`). */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(10)

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** `a.b[0].c` from a schema issue's path. */
const pathText = (prefix: string, path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string =>
  path.reduce<string>((text, segment) => {
    const key = typeof segment === "object" ? segment.key : segment
    return typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`
  }, prefix)

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): unknown =>
  path.reduce<unknown>((value, segment) => {
    const key = typeof segment === "object" ? segment.key : segment
    return typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined
  }, input)

/**
 * Decodes options with their schema, once, at the API boundary: a failure is
 * a `TlsConfigError` `InvalidOption` whose `path` names the option (under
 * `prefix`), with the value received and what is allowed.
 */
export const decodeOptions =
  <S extends Schema.Codec<unknown, unknown>>(schema: S, prefix: string) =>
  (input: unknown): Effect.Effect<S["Type"], TlsConfigError> =>
    Effect.mapError(Schema.decodeUnknownEffect(schema)(input), (error) => {
      const issue = formatIssue(error.issue).issues[0]
      const path = issue?.path ?? []
      const message = issue?.message ?? String(error)
      return new TlsConfigError({
        reason: new InvalidOption({
          path: pathText(prefix, path),
          // An optional option's type reads "X | undefined": what is wrong is not being an X.
          expected: message
            .replace(/^Expected /, "")
            .replace(/, got .*$/s, "")
            .replace(/ \| undefined$/, ""),
          value: valueAt(input, path)
        })
      })
    })

const decodeConnection = decodeOptions(ConnectionSchema, "connection")

/**
 * A bound that needs no decoding: `fallback` for none, or one decoded already
 * (a client passes its decoded connect timeout on every connect); `undefined`
 * for anything else, which `resolveDuration` decodes.
 */
const knownDuration = (
  value: Duration.Input | undefined,
  fallback: Duration.Duration
): Duration.Duration | undefined =>
  value === undefined
    ? fallback
    : Duration.isDuration(value) && Duration.isPositive(value) && Duration.isFinite(value)
      ? value
      : undefined

/** A bound given as an option (`undefined` is `fallback`), checked as the connection's are. */
export const resolveDuration = (
  path: string,
  value: Duration.Input | undefined,
  fallback: Duration.Duration
): Effect.Effect<Duration.Duration, TlsConfigError> => {
  const known = knownDuration(value, fallback)
  return known !== undefined ? Effect.succeed(known) : decodeOptions(Timeout, path)(value)
}

/** The connect timeout in force, failing with a `TlsConfigError` that names it. */
export const resolveConnectTimeout = (
  connectTimeout: Duration.Input | undefined
): Effect.Effect<Duration.Duration, TlsConfigError> =>
  resolveDuration("connectTimeout", connectTimeout, defaultConnectTimeout)

/** The connect timeout in force if it needs no decoding (see `knownDuration`), else `undefined`. */
export const knownConnectTimeout = (connectTimeout: Duration.Input | undefined): Duration.Duration | undefined =>
  knownDuration(connectTimeout, defaultConnectTimeout)

/** The options in force: sizes for the driver, the bounds for the lifecycle. */
export interface Resolved extends DriverSizes {
  readonly handshakeTimeout: Duration.Duration
  readonly closeTimeout: Duration.Duration
}

/**
 * Fills in the defaults and checks every value, failing with a
 * `TlsConfigError` that names the option (`connection.readBufferBytes`).
 */
export const resolve = (options: ConnectionInput): Effect.Effect<Resolved, TlsConfigError> =>
  Effect.suspend(() => {
    const decoded = known(options)
    if (decoded !== undefined) return Effect.succeed(decoded)
    return Effect.map(decodeConnection(options), (values) => {
      const result = { ...values, stallTimeout: values.closeTimeout }
      resolved.set(options, { input: { ...options }, result })
      return result
    })
  })

/**
 * The options in force if they need no decoding (an object decoded before and
 * unchanged since, or no options at all), else `undefined`: the connection
 * then runs `resolve`.
 */
export const known = (options: ConnectionInput): Resolved | undefined => {
  const entry = resolved.get(options)
  if (entry !== undefined) return unchanged(options, entry.input) ? entry.result : undefined
  return Object.keys(options).length === 0 ? defaultsResolved : undefined
}

/**
 * The options objects decoded so far: a client or a server passes the same
 * `connection` object to every connection it makes, decoded once. Each is
 * kept with a shallow copy of what was decoded, so that an object changed
 * since is decoded again (and a value made invalid fails, naming it) rather
 * than served from here.
 */
const resolved = new WeakMap<ConnectionInput, { readonly input: ConnectionInput; readonly result: Resolved }>()

/** Whether `options` holds the same fields, with the same values, as the copy `seen`. */
const unchanged = (options: ConnectionInput, seen: ConnectionInput): boolean => {
  const keys = Object.keys(options)
  if (keys.length !== Object.keys(seen).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(seen, key) || !Object.is(Reflect.get(options, key), Reflect.get(seen, key))) return false
  }
  return true
}

const defaultsResolved: Resolved = { ...defaultOptions, stallTimeout: defaultOptions.closeTimeout }
