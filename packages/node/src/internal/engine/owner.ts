/**
 * How Node's callbacks find their engine. Node calls a listener with the
 * socket as `this`, so one function serves every connection (instead of a
 * closure per connection and event) once the socket names its owner.
 */
import type * as tls from "node:tls"

/**
 * What an engine is told by Node: the shared listeners (`listeners.ts`), the
 * hooks on Node internals (`nodeInternals.ts`) and the idle timer call these.
 * Every one of them only records what happened and wakes the IO fiber.
 */
export interface SocketOwner {
  /** Something the IO fiber waits for may have changed ('drain'). */
  readonly wake: () => void
  /** The TCP connection of a TLSSocket that dials is open ('connect'). */
  readonly onConnect: () => void
  readonly onData: (chunk: Buffer) => void
  readonly onEnd: () => void
  readonly onFinish: () => void
  /** Any failure: Node's errors, the policy checks, the idle timer. The first one wins. */
  readonly onError: (error: unknown) => void
  readonly onClose: () => void
  /** The handshake completed (client: 'secureConnect', server: 'secure'). */
  readonly onSecure: (socket: tls.TLSSocket) => void
  readonly onOcspResponse: (response: Buffer) => void
  readonly onTicket: (socket: tls.TLSSocket, session: Buffer) => void
  /** A key log line (a new secret): OpenSSL's, copied into a buffer of its own for this call. */
  readonly onKeylog: (socket: tls.TLSSocket, line: Buffer) => void
  /** OpenSSL's EOF reaches the TLSSocket's readable side, before its 'end'. */
  readonly onTlsEof: () => void
  /** The TLSSocket's TLS shutdown begins: its next ciphertext write carries close_notify. */
  readonly onTlsShutdown: () => void
}

const OWNER: unique symbol = Symbol("effect-tls/SocketOwner")

/** A TLSSocket that names its owner: `own` adds the property before any listener is attached. */
interface OwnedSocket extends tls.TLSSocket {
  [OWNER]: SocketOwner
}

/** Makes `owner` the one the shared listeners call for `socket`. */
export const own = (socket: tls.TLSSocket, owner: SocketOwner): void => {
  // The cast adds our own property to Node's object; nothing of Node's is reached.
  ;(socket as OwnedSocket)[OWNER] = owner
}

/** The owner of a socket given to `own`; listeners are attached only to such sockets. */
export const ownerOf = (socket: tls.TLSSocket): SocketOwner => (socket as OwnedSocket)[OWNER]
