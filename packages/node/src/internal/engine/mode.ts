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
import type * as net from "node:net"
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
  /** The stream to put the TLSSocket on. */
  readonly under: () => Duplex
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
  /** A fatal error: the engine destroyed the TLSSocket; the mode closes what it holds that may outlive it. */
  readonly onFailure: () => void
  /** Releases what the mode holds. Idempotent. */
  readonly destroy: () => void
}

/**
 * The TLSSocket on a connected TCP socket, which the engine owns from now on.
 * It has no ciphertext for the IO fiber, and cannot tell a TCP FIN from
 * close_notify: Node reports both as a plain 'end'.
 */
export class NativeMode implements Mode {
  readonly native = true
  private readonly tcp: net.Socket

  constructor(tcp: net.Socket) {
    this.tcp = tcp
  }

  setWaker(): void {}

  under(): Duplex {
    return this.tcp
  }

  adopt(): void {
    // The TLSSocket forwards the TCP socket's errors now.
    NodeInternals.releaseErrorGuard(this.tcp, ignoreError)
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

  /** Nothing more: the TCP socket goes with `destroy`, which the connection calls once it sees the failure. */
  onFailure(): void {}

  destroy(): void {
    this.tcp.destroy()
  }
}
