/**
 * The TLS state machine, free of IO.
 *
 * An engine is fed ciphertext and gives plaintext; it is fed plaintext and
 * gives ciphertext. It never reads or writes a transport: output it produces
 * while reading (an alert, a KeyUpdate answer, close_notify) waits in the
 * engine until the connection's IO fiber takes it and sends it. Only the IO
 * fiber calls these methods (contract point 1), with one exception: once the
 * IO fiber has stopped, the connection's scope calls `destroy` (and, after a
 * fatal error, drains the last events and the fatal alert).
 *
 * A *native* engine (Node's native TLSSocket on a TCP handle) performs its own
 * socket IO in native code; it produces no ciphertext for the IO fiber and
 * reports the transport's end and failures itself. The connection pairs it
 * with `Transport.native`.
 *
 * @since 0.1.0
 */
import type { TlsError } from "./TlsError.ts"
import type { TlsEvent } from "./TlsEvent.ts"
import type { TlsSession } from "./TlsSession.ts"

/**
 * The most plaintext one TLS record carries (2^14 bytes, RFC 8446 section
 * 5.1): engines hold about one record of undelivered plaintext, and the
 * connection feeds an engine that produces ciphertext at most one record at
 * a time.
 *
 * @since 0.1.0
 * @category constants
 */
export const recordPlaintextBytes: number = 16 * 1024

/**
 * How the engine's inbound direction stands.
 *
 * - `Open`: more application data may arrive.
 * - `CloseNotify`: the peer sent close_notify; everything before it was delivered.
 * - `Ended`: the stream ended and the engine cannot tell whether close_notify
 *   was received (Node's native TLSSocket reports a TCP FIN like close_notify).
 * - `Truncated`: the transport ended without close_notify.
 *
 * @since 0.1.0
 * @category models
 */
export type InboundState = "Open" | "CloseNotify" | "Ended" | "Truncated"

/**
 * @since 0.1.0
 * @category models
 */
export interface Engine {
  /** `client` or `server`. */
  readonly role: "client" | "server"
  /** Whether the engine does its own transport IO (see the module note). */
  readonly native: boolean
  /**
   * Gives the engine the function to call when its state changes outside a call
   * from the IO fiber (engines backed by Node produce output asynchronously).
   */
  readonly setWaker: (wake: () => void) => void
  /**
   * Begins the handshake (a client sends its ClientHello), or, for an engine
   * that opens its own transport, the connect that precedes it. Called once.
   */
  readonly start: () => void
  /**
   * For an engine that opens its own transport (a native client dialing TCP):
   * what it connects to (`host:port`, for messages) until the transport is
   * open, then `undefined`. The connection bounds that wait by its connect
   * timeout, and only the rest by the handshake timeout. Absent: the transport
   * was open when the engine was made.
   */
  readonly connectingTo?: () => string | undefined
  /** Whether the handshake has completed. */
  readonly handshakeDone: () => boolean
  /** The fatal error that ended the engine, if any. After it, nothing else is valid. */
  readonly failure: () => TlsError | undefined
  /** The session; valid once `handshakeDone()` is true. */
  readonly session: () => TlsSession

  // Inbound direction: transport -> engine -> application.
  /**
   * Whether the engine takes more ciphertext now. False while its undelivered
   * plaintext exceeds about one record, so that inbound memory stays bounded.
   */
  readonly wantsCiphertext: () => boolean
  /** Feeds ciphertext read from the transport. */
  readonly receiveCiphertext: (chunk: Uint8Array) => void
  /** Tells the engine the transport reached EOF (after every chunk was fed). */
  readonly receiveEnd: () => void
  /** Takes the next decrypted chunk, or `undefined` when none is ready. */
  readonly takePlaintext: () => Uint8Array | undefined
  /** How the inbound direction stands, once every plaintext chunk was taken. */
  readonly inbound: () => InboundState

  // Outbound direction: application -> engine -> transport.
  /** Whether the engine takes more plaintext now (its outbound backlog is small). */
  readonly plaintextWritable: () => boolean
  /**
   * Encrypts application data. Only valid after the handshake and before
   * `sendEnd`. An engine that produces ciphertext gets at most
   * `recordPlaintextBytes` per call, or, with `cutsRecords`, small writes
   * joined into one chunk up to the room left in the connection's outbox; a
   * native engine gets whole writes, and small writes joined into one chunk.
   */
  readonly sendPlaintext: (chunk: Uint8Array) => void
  /**
   * Whether an engine that produces ciphertext takes a chunk longer than a
   * record and cuts its records itself (Node's TLSSocket over a duplex):
   * small writes then reach it joined in one chunk instead of one record at a
   * time. Absent: it takes at most `recordPlaintextBytes` per chunk. Native
   * engines take any length.
   */
  readonly cutsRecords?: boolean
  /**
   * Memory for a chunk the connection fills completely before it hands it to
   * `sendPlaintext` (small writes joined into one). Absent: a zeroed
   * `Uint8Array`. An engine on Node gives `Buffer.allocUnsafe`, which skips
   * the zero fill: every byte is written before the chunk leaves.
   */
  readonly allocatePlaintext?: (bytes: number) => Uint8Array
  /** Queues close_notify after all plaintext given so far. A native engine also ends the transport. */
  readonly sendEnd: () => void
  /** Takes the next ciphertext chunk to send, or `undefined`; native engines return `undefined`. */
  readonly takeCiphertext: () => Uint8Array | undefined
  /**
   * Whether plaintext given to the engine has not yet been handed on as
   * ciphertext (to `takeCiphertext`, or to the socket for a native engine).
   */
  readonly outboundPending: () => boolean
  /** Whether the transport under a native engine has finished its write side (FIN sent). */
  readonly outboundEnded: () => boolean

  /** Takes the control events produced since the last call. */
  readonly takeEvents: () => ReadonlyArray<TlsEvent>
  /**
   * Whether the connection's event history keeps the latest `SessionTicket`
   * for followers that start after it arrived (absent: it does). An engine
   * whose client hands its tickets to a session cache of its own sets false:
   * resumption takes them from there, and an idle connection then holds no
   * serialized session of its own; followers present when a ticket arrives
   * still receive it.
   */
  readonly replayTickets?: boolean
  /** Releases the engine's resources. Idempotent. */
  readonly destroy: () => void
}
