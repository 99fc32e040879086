/**
 * A connection's options: their defaults and their check, done once when the
 * connection is made.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as TlsConnection from "../../TlsConnection.ts"
import { TlsConfigError } from "../../TlsError.ts"
import { DEFAULT_BUFFER_BYTES, DEFAULT_EVENT_BUFFER } from "../constants.ts"
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
): Effect.Effect<Duration.Duration, TlsConfigError> => {
  if (connectTimeout === undefined) return Effect.succeed(defaultConnectTimeout)
  const duration = Duration.fromInput(connectTimeout)
  return duration._tag === "Some"
    ? Effect.succeed(duration.value)
    : Effect.fail(
        new TlsConfigError({ reason: "InvalidOption", detail: `invalid connectTimeout: ${String(connectTimeout)}` })
      )
}

/** The options in force: sizes for the driver, the bounds for the lifecycle. */
export interface Resolved extends DriverSizes {
  readonly handshakeTimeout: Duration.Duration
  readonly closeTimeout: Duration.Duration
}

/** Fills in the defaults and checks every value, failing with a `TlsConfigError` that names the option. */
export const resolve = (options: TlsConnection.ConnectionOptions): Effect.Effect<Resolved, TlsConfigError> =>
  Effect.suspend(() => {
    const sizes = {
      readBufferBytes: options.readBufferBytes ?? defaultOptions.readBufferBytes,
      writeBufferBytes: options.writeBufferBytes ?? defaultOptions.writeBufferBytes,
      controlBufferBytes: options.controlBufferBytes ?? defaultOptions.controlBufferBytes,
      eventBufferSize: options.eventBufferSize ?? defaultOptions.eventBufferSize
    }
    for (const [name, value] of Object.entries(sizes)) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        return Effect.fail(
          new TlsConfigError({ reason: "InvalidOption", detail: `${name} must be a positive integer, got ${value}` })
        )
      }
    }
    const handshakeTimeout = Duration.fromInput(options.handshakeTimeout ?? defaultOptions.handshakeTimeout)
    const closeTimeout = Duration.fromInput(options.closeTimeout ?? defaultOptions.closeTimeout)
    if (handshakeTimeout._tag === "None" || closeTimeout._tag === "None") {
      return Effect.fail(
        new TlsConfigError({ reason: "InvalidOption", detail: "invalid handshakeTimeout or closeTimeout" })
      )
    }
    return Effect.succeed({
      ...sizes,
      handshakeTimeout: handshakeTimeout.value,
      closeTimeout: closeTimeout.value,
      stallTimeout: closeTimeout.value
    })
  })
