/**
 * The duplex mode: the in-memory duplex a TLSSocket sits on when the IO
 * fiber, not Node, moves its ciphertext. What the TLSSocket writes waits here
 * until the IO fiber takes it; what the IO fiber feeds is pushed to the
 * TLSSocket. It tells close_notify from a truncated transport exactly.
 */
import { Duplex } from "node:stream"
import type * as tls from "node:tls"
import { recordPlaintextBytes } from "@effect-tls/core/Engine"
import { Fifo } from "./fifo.ts"
import { FIRST_BYTES, type Mode } from "./mode.ts"
import * as NodeInternals from "./nodeInternals.ts"
import type { InboundEnd } from "./phases.ts"

/**
 * Ciphertext waiting inside the duplex for the TLSSocket above which the
 * duplex takes no more: about one record.
 */
const CIPHERTEXT_IN_LIMIT = recordPlaintextBytes

const noop = (): void => {}

/** A write of the TLSSocket whose callback waits until the IO fiber took its last chunk. */
interface HeldWrite {
  /** Chunks of the write still in the outbox. */
  remaining: number
  readonly callback: (error?: Error | null) => void
}

type WriteCallback = (error: Error | null | undefined) => void

/**
 * The TLSSocket's ciphertext output against its close_notify.
 *
 * ```text
 *  Open --TLS shutdown begins--> CloseNotifyNext --its next write--> CloseNotifyWriting
 *                                                                          |
 *                                                                          | the next tick
 *                                                                          v
 *                                                                  CloseNotifyWritten
 *
 *  any phase --the TLSSocket ended the duplex (_final)--> Ended
 * ```
 *
 * Writes are passed on in `Open`, `CloseNotifyNext` and `CloseNotifyWriting`,
 * and dropped from `CloseNotifyWritten` on: no record may follow close_notify
 * (RFC 8446 section 4.6.3), so no KeyUpdate answer is due any more, and the
 * writable side may already be ended, where a write would fail the
 * connection. OpenSSL does produce such output: the answer it owes to a
 * KeyUpdate request is flushed when the peer's next handshake message
 * arrives, which can be after our close_notify. `Ended` means the
 * TLSSocket's output is complete, close_notify included.
 */
type Output = "Open" | "CloseNotifyNext" | "CloseNotifyWriting" | "CloseNotifyWritten" | "Ended"

/**
 * Outbound invariant: a TLSSocket write's callback is held until the IO
 * fiber took every chunk of it, so Node's write backpressure is the IO
 * fiber's, and the TLSSocket counts the write as pending until then.
 *
 * Invariant on its lifetime: the duplex is destroyed only with the TLSSocket
 * or by the engine, never by itself (`NodeInternals.duplexOptions`), so a
 * graceful end keeps the plaintext a paused TLSSocket still buffers.
 *
 * Each field says who writes and who reads it. "Node" is JSStreamSocket
 * acting for the TLSSocket (`write`, `_write`, `_final`, `_read`); "the IO
 * fiber" is the engine's `Engine` methods.
 */
export class CiphertextDuplex extends Duplex implements Mode {
  readonly native = false
  /** Written once by `setWaker` (the engine's `setWaker`); called by Node's callbacks here. */
  private wake: () => void = noop
  /** Ciphertext the TLSSocket wrote: pushed by Node (`_write`, `_writev`), taken by the IO fiber. */
  private readonly outbox = new Fifo<Uint8Array>()
  /** The writes those chunks belong to, in the same order: pushed by Node, completed by the IO fiber. */
  private readonly held = new Fifo<HeldWrite>()
  /** Written by Node (`onShutdown` from the TLSSocket's `_final`, `write`, `_final`); read by `write` and the IO fiber. */
  private output: Output = "Open"
  /** Whether the transport's EOF was pushed: written and read by the IO fiber (`receiveEnd`). */
  private eofFed = false
  /** The peer's first bytes, up to FIRST_BYTES: a copy, kept for the classification of a failed handshake. */
  private first: Buffer = Buffer.alloc(0)

  constructor() {
    super(NodeInternals.duplexOptions)
    // A guard: an 'error' of the duplex (a push after its end) reaches the
    // TLSSocket through JSStreamSocket's own listener; with no listener at
    // all, as before the TLSSocket wraps the duplex, it would throw.
    this.on("error", noop)
  }

  setWaker(wake: () => void): void {
    this.wake = wake
  }

  under(): Duplex {
    return this
  }

  dialOptions(): never {
    throw new Error("the duplex mode never dials")
  }

  connectingTo(): undefined {
    return undefined
  }

  onConnect(): void {}

  adopt(socket: tls.TLSSocket): void {
    // Only this mode tells close_notify from the transport's EOF, and only at OpenSSL's EOF.
    NodeInternals.trackEof(socket)
    NodeInternals.trackShutdown(socket)
  }

  // --- the TLSSocket's side (Node) -------------------------------------------

  override _read(): void {
    // The TLSSocket wants ciphertext again (it was paused by backpressure).
    this.wake()
  }

  /** Every ciphertext write of the TLSSocket comes through here; see {@link Output}. */
  override write(chunk: unknown, callback?: WriteCallback): boolean
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteCallback): boolean
  override write(
    chunk: unknown,
    encodingOrCallback?: BufferEncoding | WriteCallback,
    callback?: WriteCallback
  ): boolean {
    if (this.output === "CloseNotifyWritten" || this.writableEnded) {
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback
      // Asynchronously, as a Writable calls it.
      if (done !== undefined) process.nextTick(done, null)
      return true
    }
    if (this.output === "CloseNotifyNext") {
      this.output = "CloseNotifyWriting"
      NodeInternals.afterCurrentWrite(CiphertextDuplex.closeNotifyWritten, this)
    }
    if (typeof encodingOrCallback === "function") return super.write(chunk, encodingOrCallback)
    if (encodingOrCallback === undefined) return super.write(chunk, callback)
    return super.write(chunk, encodingOrCallback, callback)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      callback()
      return
    }
    this.outbox.push(chunk)
    this.hold(1, callback)
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void
  ): void {
    let count = 0
    for (const entry of chunks) {
      if (entry.chunk.length === 0) continue
      this.outbox.push(entry.chunk)
      count++
    }
    if (count === 0) {
      callback()
      return
    }
    this.hold(count, callback)
  }

  /** The ciphertext waits for the IO fiber, and so does Node's callback. */
  private hold(chunks: number, callback: (error?: Error | null) => void): void {
    this.held.push({ remaining: chunks, callback })
    this.wake()
  }

  override _final(callback: (error?: Error | null) => void): void {
    // JSStreamSocket ends the duplex once the TLSSocket's close_notify write
    // completed (see the end of nodeInternals.ts): its output is complete.
    this.output = "Ended"
    this.wake()
    callback()
  }

  onShutdown(): void {
    if (this.output === "Open") this.output = "CloseNotifyNext"
  }

  onFinish(): void {
    // Deno (checked on 2.9.6) never ends the stream a TLSSocket sits on, so
    // `_final` never comes; its 'finish' follows the write of close_notify
    // to the duplex, which makes the output complete there.
    if (NodeInternals.finishEndsOutput) {
      this.output = "Ended"
      this.wake()
    }
  }

  inboundEnd(): InboundEnd {
    return NodeInternals.eofFromCloseNotify(this) ? "CloseNotify" : "Truncated"
  }

  // --- the transport's side (the IO fiber) -----------------------------------

  wantsCiphertext(): boolean {
    return this.readableLength < CIPHERTEXT_IN_LIMIT
  }

  receiveCiphertext(chunk: Uint8Array): void {
    if (this.first.length < FIRST_BYTES) {
      this.first = Buffer.concat([this.first, chunk.subarray(0, FIRST_BYTES - this.first.length)])
    }
    this.push(chunk)
  }

  firstBytes(): Uint8Array | undefined {
    return this.first.length === 0 ? undefined : this.first
  }

  receiveEnd(): void {
    if (this.eofFed) return
    this.eofFed = true
    this.push(null)
  }

  takeCiphertext(): Uint8Array | undefined {
    const chunk = this.outbox.shift()
    if (chunk === undefined) return undefined
    const write = this.held.peek()
    if (write !== undefined && --write.remaining === 0) {
      this.held.shift()
      // May synchronously hand over more ciphertext; the caller loops until undefined.
      write.callback()
    }
    return chunk
  }

  ciphertextPending(endRequested: boolean): boolean {
    // close_notify is handed on once the TLSSocket ended the duplex, which
    // happens only after its ciphertext was taken.
    return !this.outbox.isEmpty || (endRequested && this.output !== "Ended")
  }

  onFailure(): void {
    this.destroy()
  }

  /** The write that carried close_notify is complete; `_final` may have come first. */
  private static closeNotifyWritten(duplex: CiphertextDuplex): void {
    if (duplex.output === "CloseNotifyWriting") duplex.output = "CloseNotifyWritten"
  }
}
