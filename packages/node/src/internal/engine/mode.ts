/**
 * The one thing the two TLSSocket engines differ in: where the TLSSocket's
 * ciphertext goes. Chosen once, when the engine is made:
 *
 * - native ({@link NativeMode}): the TLSSocket sits on a TCP socket and
 *   Node's C++ layer does the socket IO; the IO fiber never sees ciphertext.
 * - duplex (`CiphertextDuplex`): the TLSSocket sits on an in-memory duplex
 *   whose other side is the IO fiber, which moves every ciphertext byte
 *   between it and any transport.
 */
import * as net from "node:net"
import type { Duplex } from "node:stream"
import type * as tls from "node:tls"
import { ignoreError } from "../transports/net.ts"
import * as NodeInternals from "./nodeInternals.ts"
import type { InboundEnd } from "./phases.ts"

/** How many of the peer's first bytes the duplex path keeps, to tell what a non-TLS peer speaks. */
export const FIRST_BYTES = 48

/**
 * Called by the engine only: `setWaker` and `under` by `start`; the
 * ciphertext methods by the engine's `Engine` methods (the IO fiber);
 * `inboundEnd` and `onShutdown` from Node's callbacks; `onFailure` on a
 * fatal error; `destroy` by the engine's `destroy`.
 */
export interface Mode {
  readonly native: boolean
  /** The function that wakes the IO fiber, for the mode's own Node callbacks. */
  readonly setWaker: (wake: () => void) => void
  /** The stream to put the TLSSocket on; `undefined`: the TLSSocket dials TCP itself, with {@link dialOptions}. */
  readonly under: () => Duplex | undefined
  /** Where a TLSSocket that dials connects to, and how. */
  readonly dialOptions: () => DialOptions
  /** While a TLSSocket that dials is not connected yet, what it connects to (`host:port`); `undefined` after. */
  readonly connectingTo: () => string | undefined
  /** The TCP connection of a TLSSocket that dials is open. */
  readonly onConnect: () => void
  /** Called once the TLSSocket is on `under()`. */
  readonly adopt: (socket: tls.TLSSocket) => void
  /** Whether the mode takes more ciphertext from the transport now. */
  readonly wantsCiphertext: () => boolean
  readonly receiveCiphertext: (chunk: Uint8Array) => void
  /**
   * The first bytes the peer sent (at most FIRST_BYTES), where the mode sees
   * them (the duplex path); they tell a peer that does not speak TLS.
   */
  readonly firstBytes: () => Uint8Array | undefined
  /** The transport's EOF. */
  readonly receiveEnd: () => void
  readonly takeCiphertext: () => Uint8Array | undefined
  /**
   * Whether output of the TLSSocket waits in the mode, or, once the end was
   * requested, close_notify has yet to be produced.
   */
  readonly ciphertextPending: (endRequested: boolean) => boolean
  /** How the inbound direction ends, asked the moment OpenSSL's EOF arrives. */
  readonly inboundEnd: () => InboundEnd
  /** The TLSSocket's TLS shutdown begins. */
  readonly onShutdown: () => void
  /** The TLSSocket's 'finish': its write side is done, close_notify written. */
  readonly onFinish: () => void
  /** A fatal error: the engine destroyed the TLSSocket; the mode closes what it holds that may outlive it. */
  readonly onFailure: () => void
  /** Releases what the mode holds. Idempotent. */
  readonly destroy: () => void
}

/** Where a native client's TLSSocket connects to, when it dials TCP itself. */
export interface DialTarget {
  readonly host: string
  readonly port: number
  readonly family?: 4 | 6 | undefined
  readonly localAddress?: string | undefined
  readonly noDelay?: boolean | undefined
}

/**
 * What `tls.connect` takes to dial: the target, and the socket options its
 * typings omit although Node passes them on to the TCP socket.
 */
export type DialOptions = net.TcpNetConnectOpts & { readonly allowHalfOpen: boolean; readonly noDelay: boolean }

/**
 * The TLSSocket on a TCP socket: one that is connected, which the engine owns
 * from now on, or one the TLSSocket dials itself (a client: `tls.connect`
 * then does DNS and the TCP connect, and the handshake follows in native code
 * without a hand-over). It has no ciphertext for the IO fiber, and cannot
 * tell a TCP FIN from close_notify: Node reports both as a plain 'end'.
 */
export class NativeMode implements Mode {
  readonly native = true
  private readonly tcp: net.Socket | undefined
  /**
   * What a TLSSocket that dials connects to, until it is connected: written
   * by the constructor and cleared by `onConnect` (Node's 'connect'; nothing
   * reads it after); read by `dialOptions` (`start`) and `connectingTo` (the
   * IO fiber, and messages).
   */
  private dial: DialTarget | undefined

  constructor(under: net.Socket | DialTarget) {
    if (under instanceof net.Socket) {
      this.tcp = under
      this.dial = undefined
    } else {
      this.tcp = undefined
      this.dial = under
    }
  }

  setWaker(): void {}

  under(): Duplex | undefined {
    return this.tcp
  }

  dialOptions(): DialOptions {
    const dial = this.dial
    if (dial === undefined) throw new Error("dialOptions() of a TLSSocket on a connected socket")
    return {
      host: dial.host,
      port: dial.port,
      ...(dial.family === undefined ? {} : { family: dial.family }),
      ...(dial.localAddress === undefined ? {} : { localAddress: dial.localAddress }),
      // The peer's FIN must not end our write side: close_notify or data may still be on its way.
      allowHalfOpen: true,
      noDelay: dial.noDelay ?? true
    }
  }

  connectingTo(): string | undefined {
    const dial = this.dial
    if (dial === undefined) return undefined
    return dial.host.includes(":") ? `[${dial.host}]:${dial.port}` : `${dial.host}:${dial.port}`
  }

  onConnect(): void {
    this.dial = undefined
  }

  adopt(): void {
    // The TLSSocket forwards the TCP socket's errors now.
    if (this.tcp !== undefined) NodeInternals.releaseErrorGuard(this.tcp, ignoreError)
  }

  wantsCiphertext(): boolean {
    return false
  }

  receiveCiphertext(): void {}

  firstBytes(): undefined {
    return undefined
  }

  receiveEnd(): void {}

  takeCiphertext(): undefined {
    return undefined
  }

  ciphertextPending(): boolean {
    return false
  }

  inboundEnd(): InboundEnd {
    return "Ended"
  }

  onShutdown(): void {}

  onFinish(): void {}

  /** Nothing more: the TCP socket goes with `destroy`, which the connection calls once it sees the failure. */
  onFailure(): void {}

  destroy(): void {
    // A dialing TLSSocket is its own TCP socket: the engine destroys it.
    this.tcp?.destroy()
  }
}
