/**
 * Parsers for the values of the command line: addresses, durations, ALPN
 * lists, byte counts and the server's mode. Each returns `undefined` for an
 * invalid input; the flag that uses it says what is wrong.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** A host and a port, the host without IPv6 brackets. */
export interface Address {
  readonly host: string
  readonly port: number
}

const portOf = (text: string, allowZero: boolean): number | undefined => {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port <= 65535 && (allowZero || port > 0) ? port : undefined
}

/**
 * `host:port`, `[v6 address]:port`. A bare IPv6 address without brackets is
 * refused: its last group could be read as the port.
 */
export const parseAddress = (text: string): Address | undefined => {
  const bracketed = /^\[([^\]]+)\]:([^:]+)$/.exec(text)
  if (bracketed !== null) {
    const [, host = "", port = ""] = bracketed
    const parsed = portOf(port, false)
    return parsed === undefined ? undefined : { host, port: parsed }
  }
  const colon = text.lastIndexOf(":")
  if (colon <= 0) return undefined
  const host = text.slice(0, colon)
  if (host.includes(":")) return undefined
  const port = portOf(text.slice(colon + 1), false)
  return port === undefined ? undefined : { host, port }
}

/** The port of `serve --port`: 0 asks the system for a free one. */
export const parsePort = (text: string): number | undefined => portOf(text, true)

/** Formats an address the way {@link parseAddress} reads it back. */
export const formatAddress = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * `500ms`, `2s`, `1.5s`, `1m`, `1h`. Zero is refused: every wait of the
 * tool is bounded, and a zero bound would fail at once.
 */
export const parseDuration = (text: string): Duration.Duration | undefined => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)
  if (match === null) return undefined
  const [, amount = "", unit = ""] = match
  const factor = units[unit]
  if (factor === undefined) return undefined
  const millis = Number(amount) * factor
  // Node's timers take at most 2^31-1 ms (about 24.8 days); above that they fire at once.
  return millis >= 1 && millis <= 2 ** 31 - 1 ? Duration.millis(Math.round(millis)) : undefined
}

/** What a duration looks like, for the message of a refused one. */
export const durationExpected = "a positive number and a unit (ms, s, m, h), like 500ms, 2s or 1m"

/**
 * A comma-separated list of ALPN protocol names: each 1 to 255 bytes, no
 * empty entry.
 */
export const parseAlpn = (text: string): ReadonlyArray<string> | undefined => {
  const protocols = text.split(",")
  return protocols.every((p) => p.length > 0 && Buffer.byteLength(p) <= 255) ? protocols : undefined
}

const byteUnits: Record<string, number> = {
  "": 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 * 1024,
  mb: 1_000_000,
  mib: 1024 * 1024,
  g: 1024 * 1024 * 1024,
  gb: 1_000_000_000,
  gib: 1024 * 1024 * 1024
}

/** A byte count: `1000`, `64k`/`64KiB` (1024-based), `1MB` (1000-based). */
export const parseBytes = (text: string): number | undefined => {
  const match = /^(\d+)([a-z]*)$/i.exec(text)
  if (match === null) return undefined
  const [, amount = "", unit = ""] = match
  const factor = byteUnits[unit.toLowerCase()]
  if (factor === undefined) return undefined
  const bytes = Number(amount) * factor
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** What `serve` does with each connection. */
export type Mode =
  | { readonly _tag: "Echo" }
  | { readonly _tag: "Sink" }
  | { readonly _tag: "Source"; readonly bytes: number }

/** `echo`, `sink` or `source=<bytes>`. */
export const parseMode = (text: string): Mode | undefined => {
  if (text === "echo") return { _tag: "Echo" }
  if (text === "sink") return { _tag: "Sink" }
  if (text.startsWith("source=")) {
    const bytes = parseBytes(text.slice("source=".length))
    return bytes === undefined ? undefined : { _tag: "Source", bytes }
  }
  return undefined
}

/** Adapts a parser that returns `undefined` to the `Option` the CLI module expects. */
export const option =
  <A>(parse: (text: string) => A | undefined) =>
  (text: string): Option.Option<A> =>
    Option.fromUndefinedOr(parse(text))
