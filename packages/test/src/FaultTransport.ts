/**
 * A transport wrapper that injects faults into either direction of any other
 * transport: deliver in small chunks, delay, stall, reset, end without
 * close_notify, flip a byte, inject bytes.
 *
 * Offsets count the bytes of the original stream of one direction (inbound:
 * what the inner transport delivered; outbound: what the connection wrote),
 * so a fault can be placed inside the handshake, at a record boundary or
 * inside a record. Faults combine: chunking and delay apply to everything that
 * passes, the earliest of the stall, reset and end faults cuts the stream, and
 * flips and injections apply before the cut.
 *
 * Delays use real time (`setTimeout`), not Effect's clock: the wrapper is a
 * readiness-driven transport whose timers only wake the IO fiber. Run delayed
 * cases with `it.live`.
 *
 * @since 0.1.0
 */
import type { Transport } from "@effect-tls/core/Transport"
import * as Data from "effect/Data"
import { FaultTransportImpl } from "./internal/faultTransport.ts"

/**
 * One fault.
 *
 * - `Chunk`: deliver in chunks of at most `size` bytes.
 * - `Delay`: hold every chunk `millis` milliseconds before passing it on.
 * - `StallAfter`: after `bytes` bytes, pass nothing more and never end
 *   (outbound: stop taking bytes, as a peer that stopped reading).
 * - `ResetAfter`: after `bytes` bytes passed, break the transport with
 *   `TlsTransportError` `ConnectionReset` (code `FAULT_RESET`) and destroy the inner one.
 * - `EndAfter`: after `bytes` bytes, end the stream (inbound: EOF; outbound:
 *   FIN), dropping what follows: a truncation when no close_notify came first.
 * - `FlipByte`: XOR the byte at `offset` with `mask` (default `0xff`).
 * - `Inject`: insert `bytes` before the original byte at `offset`.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = Data.TaggedEnum<{
  Chunk: { readonly size: number }
  Delay: { readonly millis: number }
  StallAfter: { readonly bytes: number }
  ResetAfter: { readonly bytes: number }
  EndAfter: { readonly bytes: number }
  FlipByte: { readonly offset: number; readonly mask?: number | undefined }
  Inject: { readonly offset: number; readonly bytes: Uint8Array }
}>

/**
 * Constructors and matchers for {@link Fault}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Fault = Data.taggedEnum<Fault>()

/**
 * The faults of each direction. Inbound is what the wrapped side reads (from
 * the peer), outbound what it writes (to the peer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Faults {
  readonly inbound?: ReadonlyArray<Fault> | undefined
  readonly outbound?: ReadonlyArray<Fault> | undefined
}

/**
 * What passed through a fault transport so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultStats {
  /** Original inbound bytes that passed (or are queued to pass). */
  readonly inboundBytes: number
  /** Original outbound bytes that passed (or are queued to pass). */
  readonly outboundBytes: number
  /** Inbound bytes that arrived past a cut and were never delivered. */
  readonly inboundWithheld: number
  /** Outbound bytes written past a cut and never sent. */
  readonly outboundWithheld: number
  /** The cut faults that took effect, in order, for example `"inbound end"`. */
  readonly fired: ReadonlyArray<string>
}

/**
 * A transport with faults, and what it did.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultTransport extends Transport {
  readonly stats: () => FaultStats
}

/**
 * Wraps `inner` with `faults`. Throws a `RangeError` for a negative offset or
 * a chunk size below 1 (a test bug, not a runtime condition).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (inner: Transport, faults: Faults): FaultTransport => new FaultTransportImpl(inner, faults)
