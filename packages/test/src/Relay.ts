/**
 * A TCP relay on 127.0.0.1 between a client and a server, under the test's
 * control: each direction can be paused (the relay stops reading its source,
 * so TCP backpressure reaches the sender, as from a peer that stops
 * reading), ended with a bare FIN (no close_notify), or have a byte of its
 * next chunk flipped; the whole connection can be reset. With `onRecord`, the
 * relay cuts each direction into TLS records and lets the test change, drop
 * or add records.
 *
 * Loopback TCP buffers megabytes in the kernel: a relay is how a test over
 * real sockets makes a write block, or a FIN arrive without close_notify.
 * `Wire.relay` turns it into the conformance suite's `WireControl`.
 *
 * @example
 * ```ts
 * import * as Relay from "@effect-tls/test/Relay"
 * import * as Effect from "effect/Effect"
 *
 * // Between a client and a server listening on `port`: the client connects to `relay.port`.
 * export const stalled = (port: number) =>
 *   Effect.gen(function* () {
 *     const relay = yield* Relay.make(port)
 *     // ... connect a client to relay.port ...
 *     yield* relay.pause("toServer")
 *     return relay.port
 *   })
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/relay.ts"

/**
 * A direction through the relay: what the client sends (`toServer`) or what
 * the server sends (`toClient`).
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "toServer" | "toClient"

/**
 * A leg of the relayed connection: the socket to the server (`upstream`) or
 * the one from the client (`downstream`).
 *
 * @since 0.1.0
 * @category models
 */
export type Leg = "upstream" | "downstream"

/**
 * What to send instead of one TLS record passing through: the record itself,
 * a changed copy, nothing (an empty buffer), or more records around it.
 * `index` counts the records of that direction from 0.
 *
 * @since 0.1.0
 * @category models
 */
export type RecordHook = (direction: Direction, index: number, record: Buffer) => Buffer

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The server's address. Default 127.0.0.1. */
  readonly host?: string | undefined
  /** Cut each direction into TLS records and pass each one through this hook. Default: bytes pass as they come. */
  readonly onRecord?: RecordHook | undefined
}

/**
 * A running relay, for one connection at a time (a new connection takes over
 * the controls).
 *
 * @since 0.1.0
 * @category models
 */
export interface Relay {
  /** Where the client connects, on 127.0.0.1. */
  readonly port: number
  /** Stops carrying `direction`: its source is no longer read, so its sender feels TCP backpressure. */
  readonly pause: (direction: Direction) => Effect.Effect<void>
  readonly resume: (direction: Direction) => Effect.Effect<void>
  /** Stops carrying `direction` and ends it towards its receiver with a FIN (no close_notify). */
  readonly end: (direction: Direction) => Effect.Effect<void>
  /** Resets both legs (an RST to the client and to the server). */
  readonly reset: Effect.Effect<void>
  /** Flips the fifth-last byte of the next chunk of more than 10 bytes in `direction`. */
  readonly corruptNext: (direction: Direction) => Effect.Effect<void>
  /** Whether `leg` of the current connection has closed. */
  readonly closed: (leg: Leg) => boolean
  /**
   * Waits until `leg` is closed, at most `within` (default 10 seconds): the
   * milliseconds waited, or `None` at the bound. A leg closes when the
   * endpoint behind it closes its socket (the relay destroys both legs on an
   * error).
   */
  readonly awaitClosed: (leg: Leg, within?: Duration.Input) => Effect.Effect<Option.Option<number>>
}

/**
 * A relay on 127.0.0.1, any free port, to the server on `port`; the scope
 * closes it and destroys both legs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (port: number, options?: Options) => Effect.Effect<Relay, never, Scope.Scope> = internal.make
