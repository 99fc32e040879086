/**
 * The fault matrix shared by the engine-path tests (client transport
 * faulted) and the reliability tests (server transport faulted): the faults,
 * the places in a TLS byte stream where they are injected, the outcomes each
 * side may end with, and the run of every case over a memory pair.
 */
import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import { FaultTransport } from "@effect-tls/test"
import * as MemoryTransport from "@effect-tls/test/MemoryTransport"
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
        reason: error !== undefined && "reason" in error ? error.reason._tag : undefined,
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

/** A direction of the faulted transport: what it reads (`inbound`) or writes (`outbound`). */
export type Direction = "inbound" | "outbound"

const directions: ReadonlyArray<Direction> = ["inbound", "outbound"]

const otherSide = (side: Side): Side => (side === "client" ? "server" : "client")

/**
 * What the client and the server may end with, the `faulted` side's transport
 * carrying the fault. A fault that changes bytes is caught by the side that
 * decrypts them (a handshake or protocol error); the other side then sees an
 * alert, a reset or a truncation. Stalls hit the bound.
 */
export const expected = (
  kind: Kind,
  direction: Direction,
  place: Place,
  faulted: Side
): Record<Side, ReadonlyArray<Result>> => {
  const affected: Side = direction === "inbound" ? faulted : otherSide(faulted)
  const consequence: ReadonlyArray<Result> = [
    "TlsHandshakeError",
    "TlsProtocolError",
    "TlsTransportError",
    "TlsTruncationError",
    "stalled",
    "ok"
  ]
  const both = (mine: ReadonlyArray<Result>, side: Side = affected): Record<Side, ReadonlyArray<Result>> =>
    side === "client" ? { client: mine, server: consequence } : { client: consequence, server: mine }
  switch (kind) {
    case "Chunk":
    case "Delay":
      return { client: ["ok"], server: ["ok"] }
    case "StallAfter":
      return place === "handshake"
        ? // The first side to time out destroys its transport: the other sees a reset.
          {
            client: ["TlsHandshakeError", "TlsTransportError"],
            server: ["TlsHandshakeError", "TlsTransportError"]
          }
        : // Stalled, or a truncation once the stalled side's own end gives up (its `end`
          // fails Stalled after the close timeout, and its scope then destroys the transport).
          both(["stalled", "TlsTruncationError"])
    case "ResetAfter":
      // The reset is the faulted transport's, in both directions.
      return both(["TlsTransportError"], faulted)
    case "EndAfter":
      return both(place === "handshake" ? ["TlsTransportError", "TlsHandshakeError"] : ["TlsTruncationError"])
    case "FlipByte":
    case "Inject":
      return both(place === "handshake" ? ["TlsHandshakeError", "TlsTransportError"] : ["TlsProtocolError"])
  }
}

/** One side of TLS over a transport of the pair. */
export type Connect = (transport: Transport) => Effect.Effect<TlsConnection, TlsError, Scope.Scope>

export interface MatrixOptions {
  /** The side whose transport carries the faults. */
  readonly faulted: Side
  /** Where the places are in each direction of the faulted transport (from a clean run). */
  readonly offsets: Record<Direction, Record<Place, number>>
  readonly connect: Record<Side, Connect>
  /** What each side writes before it ends. */
  readonly payload: Record<Side, Uint8Array>
  /** Bound on one side's run (handshake, transfer, close): a stall ends here. */
  readonly sideBound: Duration.Input
  /** A case that takes longer than this is a problem. */
  readonly caseBoundMs: number
}

/**
 * Every fault, in each direction of the faulted side's transport, at each
 * place, over a fresh memory pair: each side must end with an outcome
 * `expected` allows, receive a prefix of what the other sent, within the
 * bound, leaving no transport open. The problems found (none is a pass) and
 * the number of cases.
 */
export const runMatrix = (options: MatrixOptions) =>
  Effect.gen(function* () {
    const problems: Array<string> = []
    let cases = 0
    for (const kind of kinds) {
      for (const direction of directions) {
        for (const place of places) {
          const offset = options.offsets[direction][place]
          const pair = MemoryTransport.makePair()
          const fault = { [direction]: [faultAt(kind, offset)] }
          const transports: Record<Side, Transport> =
            options.faulted === "client"
              ? { client: FaultTransport.make(pair.a, fault), server: pair.b }
              : { client: pair.a, server: FaultTransport.make(pair.b, fault) }
          const run = (side: Side) =>
            runSide(options.payload[side], options.connect[side](transports[side]), options.sideBound)
          const started = Date.now()
          const [client, server] = yield* Effect.all([run("client"), run("server")], { concurrency: 2 })
          const elapsed = Date.now() - started
          cases++
          const name = `${kind} ${direction} @${place} (offset ${offset})`
          const allowed = expected(kind, direction, place, options.faulted)
          if (!allowed.client.includes(client.result))
            problems.push(`${name}: client ${client.result} ${client.reason}`)
          if (!allowed.server.includes(server.result))
            problems.push(`${name}: server ${server.result} ${server.reason}`)
          if (!isPrefix(client.received, options.payload.server)) problems.push(`${name}: client got a non-prefix`)
          if (!isPrefix(server.received, options.payload.client)) problems.push(`${name}: server got a non-prefix`)
          if (elapsed > options.caseBoundMs) problems.push(`${name}: took ${elapsed} ms`)
          if (pair.control.open() !== 0) problems.push(`${name}: ${pair.control.open()} transports left open`)
        }
      }
    }
    return { problems, cases }
  })
