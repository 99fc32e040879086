/**
 * The conformance suite: `it.live` tests of every point of the connection
 * contract (DESIGN.md section 3), run against any implementation that can make
 * a connected client/server pair.
 *
 * Every test runs once per scheduling budget (`MaxOpsBeforeYield`, for the
 * test's fibers and every fiber they fork, the connections' IO fibers
 * included), from a handful of operations to Effect's default, with seeded
 * random choices and interruption points; a failure prints the budget and the
 * seed, and `EFFECT_TLS_BUDGETS`, `EFFECT_TLS_SEED` and `EFFECT_TLS_SEEDS`
 * replay it or widen the search (see `Adversarial`).
 *
 * Capabilities an implementation cannot offer (manual control of the wire, a
 * KeyUpdate on demand, fault injection, a count of its resources) are
 * optional; the tests that need them are registered as skipped, with the
 * missing capability in their name, never silently left out.
 *
 * @example
 * ```ts
 * // packages/<pkg>/test/conformance.test.ts
 * import { type ConformanceOptions, conformance } from "@effect-tls/test/Conformance"
 *
 * declare const makeMyPair: ConformanceOptions["makePair"]
 *
 * conformance({
 *   name: "my implementation",
 *   truncationDetectable: true,
 *   capabilities: ["wire"],
 *   makePair: (options) => makeMyPair(options), // both handshakes done, in the given scope
 *   scale: { floodBytes: 16 * 1024 * 1024 }
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type * as TlsError from "@effect-tls/core/TlsError"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/conformance.ts"

/**
 * A direction on the wire between client and server.
 *
 * @since 0.1.0
 * @category models
 */
export type WireDirection = "clientToServer" | "serverToClient"

/**
 * A connected pair, both handshakes done.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConformancePair {
  readonly client: TlsConnection.TlsConnection
  readonly server: TlsConnection.TlsConnection
  /** Manual control of the wire between them, when the implementation can offer it. */
  readonly wire?: WireControl | undefined
  /** Makes `side` send a control message that requires an answer (a KeyUpdate with update_requested). */
  readonly requestKeyUpdate?: ((side: "client" | "server") => Effect.Effect<void>) | undefined
  /**
   * Makes `side`'s engine fail with a fatal error, as if it had read a corrupt
   * record (an injected error, a corrupted byte on the wire).
   */
  readonly injectFatalError?: ((side: "client" | "server") => Effect.Effect<void>) | undefined
  /**
   * The distinct fibers that called `side`'s engine (any stable identity per
   * fiber). Lets the suite check the single-owner rule.
   */
  readonly engineCallers?: ((side: "client" | "server") => Effect.Effect<ReadonlyArray<unknown>>) | undefined
  /**
   * The kinds of the records `side` received, in order, with application data
   * as `"data"` and a KeyUpdate as `"keyUpdate"`, when the implementation can
   * see its records. Lets the suite check control/data ordering on the wire.
   */
  readonly receivedRecords?: ((side: "client" | "server") => Effect.Effect<ReadonlyArray<string>>) | undefined
}

/**
 * Manual control of the wire. A paused direction delivers nothing (no bytes,
 * no EOF) until resumed, even if the receiving side closes meanwhile, so the
 * sender's transport fills and blocks, exactly like a peer that stops reading.
 *
 * @since 0.1.0
 * @category models
 */
export interface WireControl {
  readonly pause: (direction: WireDirection) => Effect.Effect<void>
  readonly resume: (direction: WireDirection) => Effect.Effect<void>
  /** The transport ends (FIN) in that direction without a TLS close_notify. */
  readonly endWithoutCloseNotify: (direction: WireDirection) => Effect.Effect<void>
  readonly reset: Effect.Effect<void>
}

/**
 * Handshakes that do not complete.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailingHandshake {
  /** The tag of the reason the failing side must report (`UnknownCa`). */
  readonly reason: TlsError.HandshakeFailureReason["_tag"]
  /** Runs the handshake; the effect is that of the side expected to fail with `reason`. */
  readonly connect: Effect.Effect<TlsConnection.TlsConnection, TlsError.TlsError, Scope.Scope>
}

/**
 * How much work the suite does; lower it for slower implementations.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConformanceScale {
  /** Interrupt-and-restart iterations of the reader and of the writer tests. Default 500. */
  readonly interruptIterations?: number | undefined
  /** Bytes flooded by the peer in the bounded-memory test. Default 64 MiB. */
  readonly floodBytes?: number | undefined
  /** Bytes per direction in the transfer tests. Default 4 MiB. */
  readonly transferBytes?: number | undefined
  /** First seed of the pseudo-random choices (chunk sizes, interrupt points). Default 0x5eed. */
  readonly seed?: number | undefined
}

/**
 * An optional ability of an implementation's pairs (the field of
 * {@link ConformancePair} of the same name).
 *
 * @since 0.1.0
 * @category models
 */
export type Capability = "wire" | "requestKeyUpdate" | "injectFatalError" | "engineCallers" | "receivedRecords"

/**
 * @since 0.1.0
 * @category models
 */
export interface ConformanceOptions {
  readonly name: string
  readonly makePair: (options: {
    readonly client?: TlsConnection.ConnectionOptions
    readonly server?: TlsConnection.ConnectionOptions
  }) => Effect.Effect<ConformancePair, TlsError.TlsError, Scope.Scope>
  /**
   * The optional fields every pair from `makePair` provides. Tests that need a
   * capability not listed here are registered as skipped, with the reason in
   * their name; a listed capability missing from a pair fails the test.
   */
  readonly capabilities?: ReadonlyArray<Capability> | undefined
  /** Whether a transport EOF without close_notify can be told apart (false for Node's native path). */
  readonly truncationDetectable: boolean
  /** How many of the implementation's resources (transports, sockets, handles) are open now. */
  readonly openResources?: Effect.Effect<number> | undefined
  /**
   * Connects a client, with these options, to a server that never answers the
   * handshake; the effect is the client's connection (expected to time out).
   */
  readonly makeSilentServerPair?:
    | ((options: {
        readonly client?: TlsConnection.ConnectionOptions
      }) => Effect.Effect<TlsConnection.TlsConnection, TlsError.TlsError, Scope.Scope>)
    | undefined
  /** A handshake that fails with a known reason. */
  readonly makeFailingHandshakePair?: (() => FailingHandshake) | undefined
  /** Scale knobs (iterations, bytes), so slower implementations stay within time. */
  readonly scale?: ConformanceScale | undefined
  /**
   * The scheduling budgets every test runs under. Default
   * `Adversarial.defaultBudgets`; `EFFECT_TLS_BUDGETS` overrides.
   */
  readonly budgets?: ReadonlyArray<number> | undefined
}

/**
 * Registers a `describe` block named after the implementation, with the
 * contract's tests, each once per scheduling budget.
 *
 * @since 0.1.0
 * @category constructors
 */
export const conformance: (options: ConformanceOptions) => void = internal.conformance
