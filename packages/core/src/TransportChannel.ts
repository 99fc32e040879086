/**
 * A transport spoken directly by the fiber that holds it, without TLS and
 * without an IO fiber: the plaintext a protocol exchanges before it hands the
 * transport to a connection (SMTP's `STARTTLS`, PostgreSQL's `SSLRequest`).
 *
 * It reads, frames and waits with the connection's own buffers, so it keeps
 * the read half's guarantees under every schedule: bytes reach the caller in
 * one `Effect.sync` step, so an interrupted read loses and duplicates nothing;
 * a fiber that must wait registers in the step that finds it must wait; a
 * failed `readExactly` or `readUntil` consumes nothing. A write waits while
 * the transport reports backpressure, then hands over the whole chunk in one
 * step. Every wait for the peer is bounded by the idle timeout.
 *
 * Bytes are taken from the transport only while those taken so far do not
 * hold what a read asks for. What was taken and not consumed therefore
 * arrived together with what the protocol asked for, before the peer could
 * have seen the answer: `release` counts it, so that an upgrade can refuse to
 * run TLS over bytes a peer pipelined behind its command (the node package's
 * `Plaintext` does).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Arguments from "./internal/arguments.ts"
import { ChunkList } from "./internal/buffers/chunkList.ts"
import { Handoff, retry } from "./internal/buffers/handoff.ts"
import * as OptionsInternal from "./internal/connection/options.ts"
import type * as TlsConnection from "./TlsConnection.ts"
import {
  ConnectionClosed,
  EndOfStream,
  FrameTooLong,
  Timeout,
  type TlsConfigError,
  type TlsError,
  TlsStateError,
  TlsTransportError
} from "./TlsError.ts"
import type { Transport } from "./Transport.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface TransportChannel extends Pick<TlsConnection.ReadHalf, "readExactly"> {
  /** The transport under the channel: its waker belongs to the channel until {@link TransportChannel.release}. */
  readonly transport: Transport
  /** Every byte taken from the transport and not consumed, or else the next chunk; `None` at the end of the stream. */
  readonly read: TlsConnection.ReadHalf["read"]
  /** As a read half's, but `maxBytes` defaults to {@link defaultMaxFrameBytes}. */
  readonly readUntil: TlsConnection.ReadHalf["readUntil"]
  /**
   * The next line without its LF (and the CR before it, if any), decoded as
   * UTF-8; at most {@link defaultMaxFrameBytes} (`TlsStateError` `FrameTooLong`).
   */
  readonly readLine: Effect.Effect<string, TlsError>
  /** Waits while the transport reports backpressure, then hands it the whole chunk. */
  readonly write: TlsConnection.WriteHalf["write"]
  /** Bytes taken from the transport and not consumed yet. */
  readonly buffered: Effect.Effect<number>
  /**
   * Ends the channel and gives the transport back to whoever sets its waker
   * next: every later operation fails with `TlsStateError`
   * `ConnectionClosed`. Returns the bytes taken and not consumed (they stay
   * unread: nobody can read them any more).
   */
  readonly release: Effect.Effect<number>
}

/**
 * The default bound on each wait: 30 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultIdleTimeout: Duration.Duration = Duration.seconds(30)

/**
 * The options of {@link make} as a Schema: decoding checks them and fills in
 * the default.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Options = Schema.Struct({
  /** Bound on each wait for the peer (bytes to read, room to write). Default {@link defaultIdleTimeout}. */
  idleTimeout: OptionsInternal.Timeout.pipe(
    Schema.withDecodingDefault<typeof OptionsInternal.Timeout>(Effect.succeed(defaultIdleTimeout))
  )
})

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = typeof Options.Encoded

/**
 * How far `readUntil` looks for its delimiter unless told otherwise: 8 KiB,
 * the size of a prologue's line, not of a record.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxFrameBytes: number = 8 * 1024

/**
 * Speaks over `transport` from the calling fiber. The channel sets the
 * transport's waker when made; use it from one fiber at a time. An
 * `idleTimeout` that is not a positive finite duration fails with
 * `TlsConfigError` `InvalidOption` (`idleTimeout`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (transport: Transport, options?: Options): Effect.Effect<TransportChannel, TlsConfigError> =>
  Effect.map(decodeOptions(options ?? {}), (decoded) => new Channel(transport, decoded.idleTimeout))

const decodeOptions = OptionsInternal.decodeOptions(Options, "")

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === "string" ? encoder.encode(chunk) : chunk)

const identity = <A>(a: A): A => a

const LF = new Uint8Array([0x0a])

const decoder = new TextDecoder()

/** A line without its CR, if any. */
const decodeLine = (line: Uint8Array): string =>
  decoder.decode(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line)

/** What a read's `find` reports when the bytes taken so far do not hold its frame. */
const MORE = -1

/**
 * Invariants:
 * - `chunks` grows only inside a step, by one transport chunk at a time, and
 *   only while `find` reports `MORE`: the channel never takes from the
 *   transport bytes that no read asked for.
 * - Bytes leave `chunks` only in a commit (see `Handoff`), which starts its
 *   operation over if another commit or `release` came between its step and it.
 * - The transport's waker, pushes and commits change `version`, so a fiber
 *   that found it must wait sees any change since, however it was scheduled.
 *
 * Shared fields: `chunks` and `takes` (changed in steps and commits), `released`
 * (set by `release`, read by every step and commit).
 */
class Channel extends Handoff implements TransportChannel {
  readonly transport: Transport
  private readonly idleTimeout: Duration.Duration
  private readonly chunks = new ChunkList()
  /** Commits so far: a frame a step found still holds while this is unchanged. */
  private takes = 0
  private released = false

  constructor(transport: Transport, idleTimeout: Duration.Duration) {
    super()
    this.transport = transport
    this.idleTimeout = idleTimeout
    transport.setWaker(() => this.changed())
  }

  readonly buffered: Effect.Effect<number> = Effect.sync(() => this.chunks.bytes)

  readonly release: Effect.Effect<number> = Effect.sync(() => {
    this.released = true
    this.changed()
    return this.chunks.bytes
  })

  readonly read: Effect.Effect<Option.Option<Uint8Array>, TlsError> = this.framed(
    () => (this.chunks.isEmpty ? MORE : this.chunks.bytes),
    (length) => Option.some(this.chunks.take(length)),
    () => Effect.succeedNone
  )

  readExactly(n: number): Effect.Effect<Uint8Array, TlsError> {
    const refused = Arguments.readExactly(n)
    if (refused !== undefined) return Effect.fail(refused)
    return this.framed(
      () => (this.chunks.bytes >= n ? n : MORE),
      (length) => this.chunks.take(length),
      () =>
        Effect.fail(
          new TlsStateError({
            reason: new EndOfStream({ detail: `wanted ${n} bytes, ${this.chunks.bytes} arrived before the end` })
          })
        )
    )
  }

  readUntil(
    delimiter: Uint8Array | string,
    options?: { readonly maxBytes?: number | undefined }
  ): Effect.Effect<Uint8Array, TlsError> {
    return this.delimited(toBytes(delimiter), options?.maxBytes ?? defaultMaxFrameBytes, identity)
  }

  readonly readLine: Effect.Effect<string, TlsError> = this.delimited(LF, defaultMaxFrameBytes, decodeLine)

  /** The frame before `needle`, which is consumed too, as `decode` makes it (in the commit). */
  private delimited<A>(
    needle: Uint8Array,
    maxBytes: number,
    decode: (frame: Uint8Array) => A
  ): Effect.Effect<A, TlsError> {
    const refused = Arguments.readUntil(needle, maxBytes)
    if (refused !== undefined) return Effect.fail(refused)
    return Effect.suspend(() => {
      // Per run: the bytes before `searched` hold no delimiter while `takes` is `searchedAt`.
      let searched = 0
      let searchedAt = this.takes
      return this.framed(
        () => {
          if (searchedAt !== this.takes) {
            searchedAt = this.takes
            searched = 0
          }
          const at = this.chunks.indexOf(needle, searched)
          if (at >= 0 && at <= maxBytes) return at
          if (at > maxBytes || this.chunks.bytes >= maxBytes + needle.length) {
            return new TlsStateError({ reason: new FrameTooLong({ detail: `no delimiter within ${maxBytes} bytes` }) })
          }
          searched = Math.max(0, this.chunks.bytes - needle.length + 1)
          return MORE
        },
        (length) => {
          const frame = this.chunks.take(length)
          this.chunks.take(needle.length)
          return decode(frame)
        },
        () =>
          Effect.fail(
            new TlsStateError({ reason: new EndOfStream({ detail: "the stream ended before the delimiter" }) })
          )
      )
    })
  }

  write(chunk: Uint8Array | string): Effect.Effect<void, TlsError> {
    const bytes = toBytes(chunk)
    const commit = Effect.sync(() => {
      if (this.released) return retry()
      if (bytes.length > 0) this.transport.write(bytes)
    })
    return this.operation(() => {
      const failure = this.failure()
      if (failure !== undefined) return Effect.fail(failure)
      return this.transport.writable() ? commit : this.idle(this.version, "took no bytes")
    })
  }

  /**
   * A read of the frame that `find` locates in the bytes taken so far: its
   * length in bytes, `MORE`, or a failure. Its step takes transport chunks
   * until `find` is satisfied or the transport has none now, then commits,
   * ends (`atEnd`) or waits.
   */
  private framed<A>(
    find: () => number | TlsError,
    take: (length: number) => A,
    atEnd: () => Effect.Effect<A, TlsError>
  ): Effect.Effect<A, TlsError> {
    return Effect.suspend(() => {
      let length = 0
      let foundAt = 0
      const commit = Effect.sync(() => {
        if (this.released || this.takes !== foundAt) return retry()
        const frame = take(length)
        this.takes++
        this.changed()
        return frame
      })
      return this.operation((): Effect.Effect<A, TlsError> => {
        if (this.released) return Effect.fail(spent())
        for (;;) {
          const found = find()
          if (typeof found !== "number") return Effect.fail(found)
          if (found !== MORE) {
            length = found
            foundAt = this.takes
            return commit
          }
          const failure = this.transport.failure()
          if (failure !== undefined) return Effect.fail(failure)
          const chunk = this.transport.read()
          if (chunk === undefined) break
          this.chunks.push(chunk)
          this.changed()
        }
        return this.transport.readEnded() ? atEnd() : this.idle(this.version, "sent nothing")
      })
    })
  }

  private failure(): TlsError | undefined {
    return this.released ? spent() : this.transport.failure()
  }

  /**
   * Waits, within the idle timeout, for a change since `seen` (the version
   * the step that decided to wait looked at), then starts the operation over.
   */
  private idle(seen: number, what: string): Effect.Effect<never, TlsError> {
    return Effect.andThen(
      this.waiters
        .wait(() => this.version !== seen, 0)
        .pipe(
          Effect.timeoutOrElse({
            duration: this.idleTimeout,
            orElse: () =>
              Effect.fail(
                new TlsTransportError({
                  reason: new Timeout({ detail: `the peer ${what} for ${Duration.format(this.idleTimeout)}` })
                })
              )
          })
        ),
      startOver
    )
  }
}

const startOver: Effect.Effect<never> = Effect.sync(retry)

const spent = () => new TlsStateError({ reason: new ConnectionClosed({ detail: "the channel was released" }) })
