/**
 * The fault matrix shared by the engine-path tests (client transport
 * faulted) and the reliability tests (server transport faulted): the faults,
 * the places in a TLS byte stream where they are injected, and the prefix check.
 */
import { FaultTransport } from "@effect-tls/test"

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
