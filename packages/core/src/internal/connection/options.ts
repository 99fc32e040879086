/**
 * A connection's options: their defaults and their check, done once when the
 * connection is made.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as TlsConnection from "../../TlsConnection.ts"
import type { TlsConfigError } from "../../TlsError.ts"
import { DEFAULT_BUFFER_BYTES, DEFAULT_EVENT_BUFFER } from "../constants.ts"
import * as Checks from "../optionChecks.ts"
import type { DriverSizes } from "./driver.ts"

/** @internal */
export const defaultOptions = {
  readBufferBytes: DEFAULT_BUFFER_BYTES,
  writeBufferBytes: DEFAULT_BUFFER_BYTES,
  controlBufferBytes: DEFAULT_BUFFER_BYTES,
  handshakeTimeout: Duration.seconds(10),
  closeTimeout: Duration.seconds(5),
  eventBufferSize: DEFAULT_EVENT_BUFFER
} as const

/** The default bound on opening the transport, for an engine that opens its own (`Engine.connectingTo`). */
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(10)

/** The connect timeout in force, failing with a `TlsConfigError` that names it. */
export const resolveConnectTimeout = (
  connectTimeout: Duration.Input | undefined
): Effect.Effect<Duration.Duration, TlsConfigError> =>
  Checks.lift(Checks.duration("connectTimeout", connectTimeout, defaultConnectTimeout))

/** The options in force: sizes for the driver, the bounds for the lifecycle. */
export interface Resolved extends DriverSizes {
  readonly handshakeTimeout: Duration.Duration
  readonly closeTimeout: Duration.Duration
}

/**
 * Fills in the defaults and checks every value, failing with a
 * `TlsConfigError` that names the option (`connection.readBufferBytes`).
 */
export const resolve = (options: TlsConnection.ConnectionOptions): Effect.Effect<Resolved, TlsConfigError> =>
  Effect.gen(function* () {
    const bytes = (name: "readBufferBytes" | "writeBufferBytes" | "controlBufferBytes") =>
      Checks.lift(Checks.positiveInteger(`connection.${name}`, options[name], defaultOptions[name], "bytes"))
    const closeTimeout = yield* Checks.lift(
      Checks.duration("connection.closeTimeout", options.closeTimeout, defaultOptions.closeTimeout)
    )
    return {
      readBufferBytes: yield* bytes("readBufferBytes"),
      writeBufferBytes: yield* bytes("writeBufferBytes"),
      controlBufferBytes: yield* bytes("controlBufferBytes"),
      eventBufferSize: yield* Checks.lift(
        Checks.positiveInteger(
          "connection.eventBufferSize",
          options.eventBufferSize,
          defaultOptions.eventBufferSize,
          "events"
        )
      ),
      handshakeTimeout: yield* Checks.lift(
        Checks.duration("connection.handshakeTimeout", options.handshakeTimeout, defaultOptions.handshakeTimeout)
      ),
      closeTimeout,
      stallTimeout: closeTimeout
    }
  })
