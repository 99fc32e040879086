import * as net from "node:net"
import type { TlsConfigError, TlsTransportError } from "@effect-tls/core/TlsError"
import { ConnectionReset, Timeout, TlsTransportError as TransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConnectOptions } from "../../NodeTransport.ts"
import { transportError } from "../errors.ts"
import { decodeTransportConnect } from "../options.ts"

/**
 * The 'error' listener of a TCP socket between its connect (or accept) and
 * its owner (a `NetTransport`, a native engine's TLSSocket): without one, an
 * error there would throw. The owner removes it once it listens itself; one
 * function for every socket, so that it can.
 */
export const ignoreError = (_error: Error): void => {}

/**
 * A `node:net` socket as a readiness-driven transport.
 *
 * Inbound invariant: the socket stays in paused mode and `read()` takes
 * Node's internal buffer only when the IO fiber asks, so this transport holds
 * no buffer of its own; while the IO fiber does not read, Node's buffer fills
 * to its high-water mark and the kernel window closes on the peer.
 *
 * Outbound invariant: bytes go straight to `socket.write`; Node's buffer is
 * the only one, and `writable()` is false from a `write` that returned false
 * until `'drain'`.
 *
 * Node's callbacks only record state and call the waker.
 */
export class NetTransport implements Transport {
  readonly socket: net.Socket
  private wake: () => void = () => {}
  private eof = false
  private ending = false
  private destroyed = false
  private error: TlsTransportError | undefined = undefined

  constructor(socket: net.Socket) {
    this.socket = socket
    // Without it Node ends our write side as soon as the peer's FIN arrives,
    // which would cut a close_notify or pending data still to be sent.
    socket.allowHalfOpen = true
    socket.pause()
    socket.on("readable", this.onWake)
    socket.on("drain", this.onWake)
    socket.on("end", this.onEnd)
    socket.on("finish", this.onWake)
    socket.on("error", this.onError)
    socket.off("error", ignoreError)
    socket.on("close", this.onClose)
  }

  private readonly onWake = (): void => this.wake()
  private readonly onEnd = (): void => {
    this.eof = true
    this.wake()
  }
  private readonly onError = (cause: Error): void => {
    if (!this.destroyed) this.error ??= transportError(cause)
    this.wake()
  }
  private readonly onClose = (): void => {
    // A close we did not ask for, before both directions ended, is a reset
    // (for example the socket was destroyed by its owner).
    if (!this.destroyed && this.error === undefined && !(this.eof && this.socket.writableFinished)) {
      this.error = new TransportError({ reason: new ConnectionReset({ detail: "the socket closed" }) })
    }
    this.wake()
  }

  setWaker(wake: () => void): void {
    this.wake = wake
    // Bytes may already be buffered (a socket handed over after a prologue).
    if (this.socket.readableLength > 0 || this.socket.readableEnded) queueMicrotask(wake)
  }

  read(): Uint8Array | undefined {
    if (this.destroyed || this.error !== undefined) return undefined
    const chunk: unknown = this.socket.read()
    return chunk instanceof Uint8Array ? chunk : undefined
  }

  readEnded(): boolean {
    return this.eof
  }

  write(chunk: Uint8Array): boolean {
    if (this.destroyed || this.ending) return true
    return this.socket.write(chunk)
  }

  writable(): boolean {
    return this.destroyed || !this.socket.writableNeedDrain
  }

  end(): void {
    if (this.destroyed || this.ending) return
    this.ending = true
    this.socket.end()
  }

  endFinished(): boolean {
    // Node sets it before it emits 'finish': every byte and the FIN were handed to the kernel.
    return this.socket.writableFinished
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.socket.destroy()
  }

  failure(): TlsTransportError | undefined {
    return this.error
  }
}

/**
 * Opens a TCP socket within the connect timeout (DNS included). Interruption
 * or the timeout destroys it at once; on success the caller owns it, with
 * `ignoreError` as its only listener until the owner takes over.
 */
export const openSocket = (options: ConnectOptions): Effect.Effect<net.Socket, TlsTransportError | TlsConfigError> =>
  Effect.flatMap(
    decodeTransportConnect(options),
    ({ host, port, connectTimeout: timeout, noDelay, family, localAddress }) => {
      return Effect.callback<net.Socket, TlsTransportError>((resume) => {
        const socket = net.connect({
          host,
          port,
          allowHalfOpen: true,
          noDelay,
          ...(family === undefined ? {} : { family }),
          ...(localAddress === undefined ? {} : { localAddress })
        })
        const onConnect = () => {
          socket.off("error", onError)
          socket.on("error", ignoreError)
          resume(Effect.succeed(socket))
        }
        const onError = (cause: Error) => {
          socket.off("connect", onConnect)
          socket.destroy()
          resume(Effect.fail(transportError(cause, `connect to ${host}:${port}`)))
        }
        socket.once("connect", onConnect)
        socket.once("error", onError)
        return Effect.sync(() => {
          socket.off("connect", onConnect)
          socket.off("error", onError)
          socket.destroy()
        })
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new TransportError({
                reason: new Timeout({ detail: `no connection to ${host}:${port} within ${Duration.format(timeout)}` })
              })
            )
        })
      )
    }
  )

/**
 * {@link openSocket} in the current scope: the socket is destroyed when the
 * scope closes. Only the wait for the connection is interruptible, so a
 * socket is never left without its finalizer.
 */
export const connectSocket = (
  options: ConnectOptions
): Effect.Effect<net.Socket, TlsTransportError | TlsConfigError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.tap(restore(openSocket(options)), (socket) => Effect.addFinalizer(() => Effect.sync(() => socket.destroy())))
  )

/** Opens a TCP connection as a transport; it is destroyed with the scope. */
export const connect = (
  options: ConnectOptions
): Effect.Effect<NetTransport, TlsTransportError | TlsConfigError, Scope.Scope> =>
  Effect.map(connectSocket(options), (socket) => new NetTransport(socket))
