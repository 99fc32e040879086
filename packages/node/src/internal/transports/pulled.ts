import type { TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import type * as Scope from "effect/Scope"

/** The end of the inbound stream, as returned by {@link Source.pull}. */
export const End: unique symbol = Symbol.for("@effect-tls/node/transports/End")

/**
 * A byte stream whose operations are effects (an Effect `Socket`, a TLS
 * connection): what {@link make} turns into a readiness-driven transport.
 */
export interface Source {
  /** The next chunks, or `End` after a clean end of the inbound stream. */
  readonly pull: Effect.Effect<ReadonlyArray<Uint8Array> | typeof End, TlsTransportError>
  /** Sends the chunks, in order; completes when the source took them (its own backpressure). */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TlsTransportError>
  /** Ends the write side after the chunks written so far. */
  readonly end: Effect.Effect<void, TlsTransportError>
  /** Closes the source; runs once, on `destroy` or when the scope closes. */
  readonly release: Effect.Effect<void>
}

/** Buffer bounds of {@link make}. */
export interface Bounds {
  /** Inbound bytes buffered before the pulling fiber stops pulling. */
  readonly readBufferBytes: number
  /** Outbound bytes buffered before `writable()` turns false. */
  readonly writeBufferBytes: number
}

/**
 * Adapts a {@link Source} to the core `Transport` with two fibers forked into
 * the current scope: one pulls, one writes. The IO fiber only touches the
 * buffers between them.
 *
 * Inbound invariant: the puller pulls only while fewer than
 * `readBufferBytes` are buffered, so at most that plus one pulled batch waits
 * here; beyond it, the source's own backpressure applies.
 *
 * Outbound invariant: `writable()` is false while the bytes accepted and not
 * yet taken by the source (queued or in flight) reach `writeBufferBytes`.
 * Chunks reach the source in the order they were written, and the end only
 * after all of them.
 */
export const make = Effect.fnUntraced(function* (
  source: Source,
  bounds: Bounds
): Effect.fn.Return<Transport, never, Scope.Scope> {
  const scope = yield* Effect.scope
  const transport = new PulledTransport(bounds)
  const destroyed = Deferred.makeUnsafe<void>()
  // Waits for `destroy()` or the end of the scope, then closes the source.
  yield* Effect.forkIn(Effect.ensuring(Deferred.await(destroyed), source.release), scope)
  const reader = yield* Effect.forkIn(transport.pullLoop(source), scope)
  const writer = yield* Effect.forkIn(transport.writeLoop(source), scope)
  transport.attach(reader, writer, () => Deferred.doneUnsafe(destroyed, Effect.void))
  return transport
})

class PulledTransport implements Transport {
  private wake: () => void = () => {}
  private readonly bounds: Bounds

  private inbound: Array<Uint8Array> = []
  private inboundBytes = 0
  private eof = false
  /** Open when the puller may pull again (buffer below its bound). */
  private readonly readRoom = Latch.makeUnsafe(true)

  private outbound: Array<Uint8Array> = []
  /** Bytes accepted and not yet taken by the source: queued plus in flight. */
  private outboundBytes = 0
  private endRequested = false
  private finished = false
  /** Open when the writer has something to do (chunks or the end). */
  private readonly writeReady = Latch.makeUnsafe(false)

  private error: TlsTransportError | undefined = undefined
  private destroyed = false
  private fibers: ReadonlyArray<Fiber.Fiber<void>> = []
  private onDestroy: () => void = () => {}

  constructor(bounds: Bounds) {
    this.bounds = bounds
  }

  attach(reader: Fiber.Fiber<void>, writer: Fiber.Fiber<void>, onDestroy: () => void): void {
    this.fibers = [reader, writer]
    this.onDestroy = onDestroy
  }

  private broken(error: TlsTransportError): Effect.Effect<void> {
    return Effect.sync(() => {
      this.error ??= error
      this.wake()
    })
  }

  pullLoop(source: Source): Effect.Effect<void> {
    const loop: Effect.Effect<void, TlsTransportError> = Effect.suspend(() => {
      if (this.inboundBytes >= this.bounds.readBufferBytes) {
        this.readRoom.closeUnsafe()
        return Effect.flatMap(this.readRoom.await, () => loop)
      }
      return Effect.flatMap(source.pull, (batch) => {
        if (batch === End) {
          this.eof = true
          this.wake()
          return Effect.void
        }
        for (const chunk of batch) {
          if (chunk.length === 0) continue
          this.inbound.push(chunk)
          this.inboundBytes += chunk.length
        }
        this.wake()
        return loop
      })
    })
    return Effect.catch(loop, (error) => this.broken(error))
  }

  writeLoop(source: Source): Effect.Effect<void> {
    const loop: Effect.Effect<void, TlsTransportError> = Effect.suspend(() => {
      if (this.outbound.length > 0) {
        const chunks = this.outbound
        this.outbound = []
        let bytes = 0
        for (const chunk of chunks) bytes += chunk.length
        return Effect.flatMap(source.write(chunks), () => {
          this.outboundBytes -= bytes
          this.wake()
          return loop
        })
      }
      if (this.endRequested) {
        return Effect.map(source.end, () => {
          this.finished = true
          this.wake()
        })
      }
      this.writeReady.closeUnsafe()
      return Effect.flatMap(this.writeReady.await, () => loop)
    })
    return Effect.catch(loop, (error) => this.broken(error))
  }

  setWaker(wake: () => void): void {
    this.wake = wake
  }

  read(): Uint8Array | undefined {
    const chunk = this.inbound.shift()
    if (chunk === undefined) return undefined
    this.inboundBytes -= chunk.length
    if (this.inboundBytes < this.bounds.readBufferBytes) this.readRoom.openUnsafe()
    return chunk
  }

  readEnded(): boolean {
    return this.eof && this.inbound.length === 0
  }

  write(chunk: Uint8Array): boolean {
    if (this.destroyed || this.endRequested || chunk.length === 0) return this.writable()
    this.outbound.push(chunk)
    this.outboundBytes += chunk.length
    this.writeReady.openUnsafe()
    return this.writable()
  }

  writable(): boolean {
    return this.outboundBytes < this.bounds.writeBufferBytes
  }

  end(): void {
    if (this.endRequested) return
    this.endRequested = true
    this.writeReady.openUnsafe()
  }

  endFinished(): boolean {
    return this.finished
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.inbound = []
    this.outbound = []
    for (const fiber of this.fibers) fiber.interruptUnsafe()
    this.onDestroy()
  }

  failure(): TlsTransportError | undefined {
    return this.error
  }
}
