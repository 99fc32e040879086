/**
 * The fault matrix shared by the engine-path tests (client transport
 * faulted) and the reliability tests (server transport faulted): the faults,
 * the places in a TLS byte stream where they are injected, and the prefix check.
 */
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import { FaultTransport } from "@effect-tls/test"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

/** The faults of the matrix. */
export type Kind = "Chunk" | "Delay" | "StallAfter" | "ResetAfter" | "EndAfter" | "FlipByte" | "Inject"

export const kinds: ReadonlyArray<Kind> = [
  "Chunk",
  "Delay",
  "StallAfter",
  "ResetAfter",
  "EndAfter",
  "FlipByte",
  "Inject"
]

/** Where in a direction's byte stream a fault lands. */
export type Place = "handshake" | "boundary" | "inside"

export const places: ReadonlyArray<Place> = ["handshake", "boundary", "inside"]

/** A fault of `kind` at `offset` (bytes of the direction's original stream). */
export const faultAt = (kind: Kind, offset: number): FaultTransport.Fault => {
  switch (kind) {
    case "Chunk":
      return FaultTransport.Fault.Chunk({ size: Math.max(1, offset % 97) })
    case "Delay":
      return FaultTransport.Fault.Delay({ millis: 20 })
    case "StallAfter":
      return FaultTransport.Fault.StallAfter({ bytes: offset })
    case "ResetAfter":
      return FaultTransport.Fault.ResetAfter({ bytes: offset })
    case "EndAfter":
      return FaultTransport.Fault.EndAfter({ bytes: offset })
    case "FlipByte":
      return FaultTransport.Fault.FlipByte({ offset })
    case "Inject":
      // A well-formed application-data record header with garbage: the peer must reject it, not skip it.
      return FaultTransport.Fault.Inject({ offset, bytes: Uint8Array.of(0x17, 0x03, 0x03, 0x00, 0x10, 1, 2, 3) })
  }
}

/**
 * The offsets of the three places in a clean run's byte stream: the middle of
 * the first record (inside the handshake), the start of the first full-size
 * record (a record boundary), and 1000 bytes into it (inside a record).
 */
export const placesIn = (stream: Uint8Array): Record<Place, number> => {
  let at = 0
  let first: number | undefined
  while (at + 5 <= stream.length) {
    const length = 5 + (((stream[at + 3] ?? 0) << 8) | (stream[at + 4] ?? 0))
    first ??= Math.floor(length / 2)
    if (length >= 16 * 1024) return { handshake: first, boundary: at, inside: at + 1000 }
    at += length
  }
  throw new Error("no full-size record in the clean run")
}

/** Whether `got` is a prefix of `sent`: nothing reordered, duplicated or invented. */
export const isPrefix = (got: Uint8Array, sent: Uint8Array): boolean =>
  got.length <= sent.length && Buffer.from(sent.subarray(0, got.length)).equals(got)

/** A side of a faulted connection. */
export type Side = "client" | "server"

/** How one side's run ended: `ok` (all data, clean close), `stalled` (hit its bound) or the error's tag. */
export type Result = "ok" | "stalled" | TlsError["_tag"]

/** One side's run. */
export interface SideRun {
  readonly result: Result
  readonly reason: string | undefined
  readonly received: Uint8Array
}

/**
 * One side: handshake, write `payload` and end, read to the end (at most
 * 10,000 chunks); all within `bound`.
 */
export const runSide = (
  payload: Uint8Array,
  connect: Effect.Effect<TlsConnection, TlsError, Scope.Scope>,
  bound: Duration.Input
): Effect.Effect<SideRun> =>
  Effect.scoped(
    Effect.gen(function* () {
      const received: Array<Uint8Array> = []
      const work = Effect.gen(function* () {
        const conn = yield* connect
        const writer = yield* Effect.forkChild(
          Effect.andThen(conn.writer.write(payload), conn.writer.end).pipe(Effect.ignore)
        )
        for (let i = 0; i < 10_000; i++) {
          const chunk = yield* conn.reader.read
          if (Option.isNone(chunk)) break
          received.push(chunk.value)
        }
        yield* Fiber.join(writer)
      })
      const exit = yield* work.pipe(Effect.timeoutOption(bound), Effect.exit)
      if (exit._tag === "Success") {
        return {
          result: exit.value._tag === "None" ? "stalled" : "ok",
          reason: undefined,
          received: Buffer.concat(received)
        }
      }
      const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      const error = failure?._tag === "Fail" ? failure.error : undefined
      return {
        result: error?._tag ?? "stalled",
        reason: error !== undefined && "reason" in error ? error.reason : undefined,
        received: Buffer.concat(received)
      }
    })
  )

/** A transport that records every byte it reads and writes (to locate records in a clean run). */
export const recording = (inner: Transport, inbound: Array<Uint8Array>, outbound: Array<Uint8Array>): Transport => ({
  setWaker: (wake) => inner.setWaker(wake),
  read: () => {
    const chunk = inner.read()
    if (chunk !== undefined) inbound.push(Uint8Array.from(chunk))
    return chunk
  },
  readEnded: () => inner.readEnded(),
  write: (chunk) => {
    outbound.push(Uint8Array.from(chunk))
    return inner.write(chunk)
  },
  writable: () => inner.writable(),
  end: () => inner.end(),
  endFinished: () => inner.endFinished(),
  destroy: () => inner.destroy(),
  failure: () => inner.failure()
})
