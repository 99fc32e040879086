/**
 * A TLS connection as a scoped resource, with a read half and a write half
 * that separate fibers may use, block in, abandon or interrupt independently.
 *
 * One IO fiber, forked into the connection's scope, owns the engine and the
 * transport: it feeds ciphertext to the engine, moves plaintext to the read
 * buffer, moves the write buffer into the engine, and sends whatever the
 * engine produced (application data and control data alike) as soon as the
 * transport takes it. Application fibers touch only the bounded buffers.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import type * as Stream from "effect/Stream"
import type { CloseOutcome } from "./CloseOutcome.ts"
import type { Engine } from "./Engine.ts"
import * as Halves from "./internal/connection/halves.ts"
import * as Lifecycle from "./internal/connection/lifecycle.ts"
import * as Options from "./internal/connection/options.ts"
import type { TlsError } from "./TlsError.ts"
import type { TlsEvent } from "./TlsEvent.ts"
import type { TlsSession } from "./TlsSession.ts"
import type { Transport } from "./Transport.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: "~@effect-tls/core/TlsConnection" = Halves.TypeId

/**
 * An established TLS connection. Valid while the scope it was acquired in is
 * open; closing that scope closes it gracefully (pending writes, close_notify)
 * within the close timeout, then by force.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConnection {
  readonly [TypeId]: typeof TypeId
  /** The read half: hand it to the fiber that reads. */
  readonly reader: ReadHalf
  /** The write half: hand it to the fiber that writes. */
  readonly writer: WriteHalf
  /** What the handshake negotiated. */
  readonly session: TlsSession
  /**
   * Control events (alerts, key updates, tickets, close_notify), starting with
   * the recent history. Following them never slows the connection: a follower
   * that falls behind is told how many it missed.
   */
  readonly events: Stream.Stream<TlsEvent>
  /** Waits until the connection has ended and tells how. */
  readonly closed: Effect.Effect<CloseOutcome>
  /** Counters: plaintext bytes read and written, events dropped, bytes buffered now. */
  readonly stats: Effect.Effect<TlsStats>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TlsStats {
  readonly bytesRead: number
  readonly bytesWritten: number
  readonly eventsDropped: number
  /** Plaintext bytes waiting in the read buffer for the readers now. */
  readonly readBuffered: number
  /** Plaintext bytes accepted from writers and not yet given to the engine now. */
  readonly writeBuffered: number
}

/**
 * The read half. Interrupting any of its operations loses and duplicates
 * nothing: bytes are either returned or left at the head of the read buffer.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadHalf {
  /** The next chunk (at most one TLS record), or `None` after the peer's close_notify. */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, TlsError>
  /**
   * Exactly `n` bytes. The read buffer grows to `n` while this waits. Fails
   * with `TlsStateError` `EndOfStream`, consuming nothing, if the stream ends first.
   */
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, TlsError>
  /**
   * The bytes before the next `delimiter` (which is consumed). Fails with
   * `TlsStateError` `FrameTooLong` after `maxBytes` (default 64 KiB) without a
   * delimiter, and `EndOfStream` at the end; neither consumes anything.
   */
  readonly readUntil: (
    delimiter: Uint8Array | string,
    options?: { readonly maxBytes?: number | undefined }
  ) => Effect.Effect<Uint8Array, TlsError>
  /** All remaining data as a stream, ending at the peer's close_notify. */
  readonly stream: Stream.Stream<Uint8Array, TlsError>
}

/**
 * The write half. A write suspends while the write buffer is full and accepts
 * each chunk whole or not at all, so interrupting it never leaves a partial
 * record. Chunks are not copied: do not mutate a chunk after writing it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteHalf {
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, TlsError>
  /** Writes several chunks, in order; each one is accepted whole. */
  readonly writeAll: (chunks: Iterable<Uint8Array | string>) => Effect.Effect<void, TlsError>
  /**
   * Completes when every byte accepted before it was called has been handed
   * to the transport. Fails with `TlsStateError` `Stalled` if the transport
   * takes nothing for the connection's `closeTimeout` (default 5 seconds; the
   * bytes stay queued and the connection is unchanged), and with
   * `ConnectionClosed` once the connection's scope closed.
   */
  readonly flush: Effect.Effect<void, TlsError>
  /**
   * Ends the write half: close_notify after the pending writes, then the
   * transport's FIN. Completes when both are handed to the transport. The
   * read half keeps reading. Bounded like `flush` (`Stalled`,
   * `ConnectionClosed`).
   */
  readonly end: Effect.Effect<void, TlsError>
  /** A sink that writes every chunk, then ends the write half when the input ends. */
  readonly sink: Sink.Sink<void, Uint8Array, never, TlsError>
}

/**
 * Buffer limits and timeouts of a connection: the encoded side of
 * `TlsConfig.ConnectionConfig`, the one schema they come from (their defaults
 * and their check too). Every field is optional; a bad value fails
 * `TlsConnection.make` (and the client or server holding it) with
 * `TlsConfigError` `InvalidOption` naming it (`connection.closeTimeout`).
 *
 * - `readBufferBytes`: bytes of plaintext buffered for the readers before
 *   the IO fiber stops reading. Default 64 KiB.
 * - `writeBufferBytes`: bytes of plaintext accepted from writers before
 *   `write` suspends. Default 64 KiB.
 * - `controlBufferBytes`: bytes of control output (alerts, KeyUpdate
 *   answers) held while the transport does not take them before the IO fiber
 *   stops reading. The ciphertext waiting for the transport is at most the
 *   write limit plus three records of application data plus this. Default 64 KiB.
 * - `handshakeTimeout`: bound on the handshake, a positive
 *   `Duration.Input`. Default 10 seconds.
 * - `closeTimeout`: bound on the graceful part of closing, and on how long
 *   `flush` and `end` wait for the transport to take anything (`Stalled`).
 *   Default 5 seconds.
 * - `eventBufferSize`: events buffered per follower. Default 64.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions extends Options.ConnectionInput {}

/**
 * The defaults of {@link ConnectionOptions}, decoded from no options.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOptions: {
  readonly readBufferBytes: number
  readonly writeBufferBytes: number
  readonly controlBufferBytes: number
  readonly handshakeTimeout: Duration.Duration
  readonly closeTimeout: Duration.Duration
  readonly eventBufferSize: number
} = Options.defaultOptions

/**
 * Runs a connection over an engine and a transport: starts the IO fiber in
 * the current scope, performs the handshake within the handshake timeout, and
 * returns the established connection. For a native engine, pass
 * `Transport.native`.
 *
 * If the handshake fails or times out, or the fiber is interrupted, the
 * transport is destroyed before this effect ends.
 *
 * An engine that opens its own transport (`Engine.connectingTo`) is given
 * `connectTimeout` (default 10 seconds) to open it; a connect that takes
 * longer fails `TlsTransportError` `Timeout`, and the handshake timeout
 * counts from the moment the transport is open.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: {
  readonly engine: Engine
  readonly transport: Transport
  readonly options?: ConnectionOptions | undefined
  readonly connectTimeout?: Duration.Input | undefined
}) => Effect.Effect<TlsConnection, TlsError, Scope.Scope> = Lifecycle.make

/**
 * `make` without a scope, for code that ends its connections from its own
 * exit handler (a server's fiber per connection, a pool). `register` is
 * called once, synchronously, in the step that starts the connection's IO
 * fiber, before the handshake and before anything can interrupt: from then
 * on the caller owns the connection and must run the `close` it was given on
 * every exit, as a scope would (if the handshake failed, it finds nothing
 * left to do). If `register` was not called, nothing was started: this
 * effect failed or was interrupted before, and released the transport.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnscoped: (
  options: {
    readonly engine: Engine
    readonly transport: Transport
    readonly options?: ConnectionOptions | undefined
    readonly connectTimeout?: Duration.Input | undefined
  },
  register: (close: Effect.Effect<void>) => void
) => Effect.Effect<TlsConnection, TlsError> = Lifecycle.makeUnscoped

/**
 * Closes the connection now, as its scope's close would: the pending
 * writes, close_notify and the FIN within the close timeout, then by force.
 * Uninterruptible (bounded by the close timeout). The first close does the
 * work; a later one, such as the scope's finalizer of a connection closed
 * early, waits until the connection has ended. Every operation on the
 * connection fails with `ConnectionClosed` after it.
 *
 * @since 0.1.0
 * @category destructors
 */
export const close = (connection: TlsConnection): Effect.Effect<void> =>
  connection instanceof Halves.Connection
    ? Lifecycle.close(connection.driver)
    : Effect.die(new TypeError("TlsConnection.close: the connection was not made by TlsConnection.make"))

/**
 * @since 0.1.0
 * @category refinements
 */
export const isTlsConnection: (u: unknown) => u is TlsConnection = Halves.isTlsConnection
