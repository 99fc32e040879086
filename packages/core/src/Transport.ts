/**
 * The byte stream a TLS engine runs over: a TCP socket, an Effect `Socket`, an
 * in-memory pair, a fault-injecting wrapper, another TLS connection.
 *
 * A transport is non-blocking and readiness-driven, like a socket under
 * epoll: the connection's IO fiber calls its methods, never waits inside them,
 * and sleeps until the transport calls the waker it was given. Only the IO
 * fiber calls these methods (contract point 1); callbacks from the underlying
 * stream may only buffer and call the waker.
 *
 * @since 0.1.0
 */
import type { TlsTransportError } from "./TlsError.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  /**
   * Gives the transport the function to call whenever something it reports may
   * have changed: bytes arrived, the write side drained, the stream ended or
   * failed. Calling it spuriously is harmless. Called once, before any other method.
   */
  readonly setWaker: (wake: () => void) => void
  /**
   * Takes the next buffered inbound chunk, or `undefined` when none is buffered
   * now. While the IO fiber does not call `read`, the transport stops pulling
   * from its source once its own buffer is full, so the peer feels backpressure.
   */
  readonly read: () => Uint8Array | undefined
  /** Whether the inbound side has ended (EOF) and every chunk before it was read. */
  readonly readEnded: () => boolean
  /**
   * Hands bytes to the transport. The transport always takes them; the result
   * says whether it wants more now (`false`: wait for the waker and `writable`).
   */
  readonly write: (chunk: Uint8Array) => boolean
  /** Whether the transport accepts more bytes without exceeding its own buffer. */
  readonly writable: () => boolean
  /** Ends the write side (TCP FIN) after the bytes already written. */
  readonly end: () => void
  /**
   * Whether the write side has finished: every byte and the FIN were handed to
   * the operating system (or the peer). The IO fiber waits for it before
   * destroying the transport on a graceful close.
   */
  readonly endFinished: () => boolean
  /** Closes both directions at once, discarding buffered bytes. Idempotent. */
  readonly destroy: () => void
  /** The failure that broke the transport, if any (reset, timeout). */
  readonly failure: () => TlsTransportError | undefined
}

/**
 * The transport of a native engine, which does its own IO: it never has bytes,
 * never ends by itself and refuses nothing; the engine reports the real
 * transport's state.
 *
 * @since 0.1.0
 * @category constructors
 */
export const native: Transport = {
  setWaker: () => {},
  read: () => undefined,
  readEnded: () => false,
  write: () => true,
  writable: () => true,
  end: () => {},
  endFinished: () => true,
  destroy: () => {},
  failure: () => undefined
}
