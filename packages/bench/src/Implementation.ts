/**
 * What the benchmarks measure: an implementation of a TLS client and server.
 *
 * Raw `node:tls` is the reference and is driven with callbacks, as a Node
 * program would use it. Every Effect-based implementation (Effect's own
 * `NodeSocket`, effect-tls's native path and duplex path) is adapted to one
 * small Effect-level interface, {@link Conn}, so that each workload is written
 * once for all of them. A read's result is turned into chunks by a plain
 * function (`chunks`), so an adapter adds no Effect operation to a read of
 * its own, except where the implementation reports the end as a failure
 * (`NodeSocket`).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Credentials } from "./Credentials.ts"

/**
 * One established TLS connection, seen from an Effect program.
 *
 * @since 0.1.0
 * @category models
 */
export interface Conn<Read = unknown> {
  /** The next read, in the implementation's own terms: `chunks` says what it holds. */
  readonly read: Effect.Effect<Read, unknown>
  /** The plaintext chunks of a read, or `undefined` at the end of the stream. A method: any `Conn<Read>` is a `Conn`. */
  chunks(read: Read): ReadonlyArray<Uint8Array> | undefined
  /** Writes one chunk, suspending while the implementation applies backpressure. */
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, unknown>
  /** Ends the write side (close_notify, FIN); the read side stays open. */
  readonly end: Effect.Effect<void, unknown>
  /** Whether the handshake resumed a session, when the implementation tells. */
  readonly resumed: boolean | undefined
}

/**
 * A client: its shared state (secure context, session cache) lives as long
 * as the scope it was made in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly connect: (port: number) => Effect.Effect<Conn, unknown, Scope.Scope>
}

/**
 * An Effect-based implementation under test.
 *
 * @since 0.1.0
 * @category models
 */
export interface EffectImplementation {
  readonly _tag: "Effect"
  readonly id: Exclude<ImplementationId, RawImplementation["id"]>
  readonly label: string
  /** Whether clients can resume sessions (the resumed-handshake case is skipped otherwise). */
  readonly resumption: boolean
  /** The cases it is measured in, when not all (it differs from another implementation only there). */
  readonly measuredIn?: ReadonlyArray<CaseName> | undefined
  /** Listens on 127.0.0.1 (port chosen by the system) and runs `handler` for every connection. */
  readonly serve: (
    credentials: Credentials,
    handler: (conn: Conn) => Effect.Effect<void, unknown>
  ) => Effect.Effect<number, unknown, Scope.Scope>
  readonly client: (
    credentials: Credentials,
    options: { readonly resume: boolean }
  ) => Effect.Effect<Client, unknown, Scope.Scope>
}

/**
 * Raw `node:tls`, the reference (see `internal/raw.ts`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RawImplementation {
  readonly _tag: "Raw"
  readonly id: "raw" | "jsduplex"
  readonly label: string
  readonly resumption: true
  /**
   * Each TLSSocket sits on a JavaScript duplex that moves the ciphertext to
   * and from the TCP socket (Node's `JSStreamSocket`), as effect-tls's duplex
   * path does: the least that path can cost.
   */
  readonly overJsDuplex: boolean
  /** The cases it is measured in, when not all. */
  readonly measuredIn?: ReadonlyArray<CaseName> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Implementation = RawImplementation | EffectImplementation

/**
 * The implementations, in the order of the table's columns.
 *
 * - `raw`: `node:tls` with a shared `SecureContext`.
 * - `effect`: Effect 4.1's `NodeSocket.makeTls` / `NodeSocketServer.makeTls`.
 * - `native`: effect-tls over a native TLSSocket.
 * - `duplex`: effect-tls on the duplex path over a TCP transport.
 * - `simple`: the native path through `NodeTls.connect`, in the handshake cases.
 * - `jsduplex`: raw `node:tls` with each TLSSocket over a JavaScript duplex
 *   (the duplex path's floor), in the bulk and ping-pong cases.
 * - `floor`: the thinnest Effect program over the same TLSSockets that keeps
 *   the design (an IO fiber per connection, bounded buffers, interrupt-safe
 *   halves, timeouts as timers): how far effect-tls is from what Effect allows.
 *
 * @since 0.1.0
 * @category models
 */
export type ImplementationId = "raw" | "effect" | "native" | "duplex" | "simple" | "floor" | "jsduplex"

/**
 * The cases of a run.
 *
 * @since 0.1.0
 * @category models
 */
export const caseNames = ["bulk", "pingpong", "small", "handshakes", "memory", "flood"] as const

/**
 * @since 0.1.0
 * @category models
 */
export type CaseName = (typeof caseNames)[number]

/**
 * Whether `implementation` is measured in the case `name`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const measuredIn = (implementation: Implementation, name: CaseName): boolean =>
  implementation.measuredIn === undefined || implementation.measuredIn.includes(name)
