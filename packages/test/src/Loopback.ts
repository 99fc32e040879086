/**
 * TCP on the loopback interface for tests: a listener whose sockets are
 * handed to the test, any `net.Server` run for the scope, and ports for peers
 * that take one on their command line or for connections that must be
 * refused. What a test opens here is destroyed with its scope.
 *
 * Everything listens on 127.0.0.1 unless told otherwise, never on every
 * address.
 *
 * @example
 * ```ts
 * import * as Loopback from "@effect-tls/test/Loopback"
 * import * as Effect from "effect/Effect"
 * import * as net from "node:net"
 *
 * // A server that never answers: the client's handshake must time out.
 * export const silentPeer = Effect.gen(function* () {
 *   const listener = yield* Loopback.listen()
 *   const client = net.connect({ host: "127.0.0.1", port: listener.port })
 *   yield* Effect.addFinalizer(() => Effect.sync(() => client.destroy()))
 *   const socket = yield* listener.accept
 *   return socket.remotePort === client.localPort
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as net from "node:net"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/loopback.ts"

/**
 * A TCP listener and the sockets it accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  readonly port: number
  /**
   * The next accepted socket, in the order they came (not when the listener
   * has an `onConnection` handler). A defect after the listener's `timeout`.
   */
  readonly accept: Effect.Effect<net.Socket>
  /** Accepted sockets not closed yet. */
  readonly openSockets: () => number
  /**
   * Completes once every accepted socket has closed (a destroyed socket closes
   * a tick later). A defect after the listener's `timeout`.
   */
  readonly allClosed: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListenOptions {
  /** The address to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Keep a socket writable after its peer's FIN (`net.Server`'s option). Default false. */
  readonly allowHalfOpen?: boolean | undefined
  /** Accepted sockets are paused until read (`net.Server`'s option). Default false. */
  readonly pauseOnConnect?: boolean | undefined
  /** Receives every accepted socket instead of {@link Listener.accept}. */
  readonly onConnection?: ((socket: net.Socket) => void) | undefined
  /** The bound of `accept` and `allClosed`. Default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Listens on a free port until the scope closes; closing it destroys every
 * accepted socket and waits for the listener to be gone. Accepted sockets
 * ignore their errors (the test sees them end).
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen: (options?: ListenOptions) => Effect.Effect<Listener, never, Scope.Scope> = internal.listen

/**
 * Runs `server` (any `net.Server`: a `tls.Server`, an `http.Server`) on
 * `host` (default 127.0.0.1), a free port, until the scope closes; closing it
 * destroys the server's open connections and waits until it is closed. The
 * port it listens on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve: (server: net.Server, host?: string) => Effect.Effect<number, never, Scope.Scope> = internal.serve

/**
 * A port on 127.0.0.1 for a peer that takes its port on the command line:
 * bound by the kernel, then released. Another process could take it in
 * between; prefer a peer that binds port 0 and prints its port (as
 * `Peer.opensslServer` does).
 *
 * @since 0.1.0
 * @category constructors
 */
export const freePort: Effect.Effect<number> = internal.freePort()

/**
 * A port on 127.0.0.1 that nothing listens on (bound, then released): a
 * connection to it is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closedPort: Effect.Effect<number> = internal.freePort()
