import type { TlsError } from "@effect-tls/core/TlsError"
import { TlsHandshakeError, TlsStateError, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { Plaintext } from "../../Starttls.ts"

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === "string" ? encoder.encode(chunk) : chunk)

/**
 * One sleeping fiber's wake-up; a wake with nobody waiting is remembered, so
 * none is lost between a check and the wait.
 */
class Wakeup {
  private pending = false
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  readonly wake = (): void => {
    const resume = this.resume
    if (resume === undefined) {
      this.pending = true
      return
    }
    this.resume = undefined
    resume(Effect.void)
  }
  readonly await: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
      return
    }
    this.resume = resume
    return Effect.sync(() => {
      if (this.resume === resume) this.resume = undefined
    })
  })
}

/**
 * The plaintext side of a transport before a STARTTLS upgrade, driven by the
 * one fiber that speaks the prologue (no IO fiber exists yet).
 *
 * Inbound invariant: bytes are taken from the transport only when a read
 * needs more than `buffer` holds, so `buffer` holds only bytes that arrived
 * together with (or before) the ones the prologue asked for. At the upgrade
 * point, anything left in it was sent by the peer before it could have seen
 * our answer: an injection, which fails the upgrade.
 */
export class PlaintextChannel {
  readonly transport: Transport
  private readonly wakeup = new Wakeup()
  private readonly idleTimeout: Duration.Duration
  private buffer: Uint8Array = new Uint8Array(0)
  private upgraded = false
  private eof = false

  constructor(transport: Transport, idleTimeout: Duration.Duration) {
    this.transport = transport
    this.idleTimeout = idleTimeout
    transport.setWaker(this.wakeup.wake)
  }

  get buffered(): number {
    return this.buffer.length
  }

  private guard(): TlsError | undefined {
    if (this.upgraded) {
      return new TlsStateError({ reason: "ConnectionClosed", detail: "the plaintext channel was upgraded to TLS" })
    }
    return this.transport.failure()
  }

  private readonly timeoutError = () =>
    Effect.fail(
      new TlsTransportError({
        reason: "Timeout",
        detail: `the peer sent nothing for ${Duration.format(this.idleTimeout)} during the plaintext prologue`
      })
    )

  /** Waits for the transport's waker, bounded by the idle timeout. */
  private readonly wait: Effect.Effect<void, TlsError> = Effect.suspend(() =>
    this.wakeup.await.pipe(Effect.timeoutOrElse({ duration: this.idleTimeout, orElse: this.timeoutError }))
  )

  /** Appends the next transport chunk to the buffer; false at EOF. */
  private readonly fill: Effect.Effect<boolean, TlsError> = Effect.suspend(() => {
    const error = this.guard()
    if (error !== undefined) return Effect.fail(error)
    if (this.eof) return Effect.succeed(false)
    const chunk = this.transport.read()
    if (chunk !== undefined) {
      this.append(chunk)
      return Effect.succeed(true)
    }
    if (this.transport.readEnded()) {
      this.eof = true
      return Effect.succeed(false)
    }
    return Effect.flatMap(this.wait, () => this.fill)
  })

  private append(chunk: Uint8Array): void {
    if (this.buffer.length === 0) {
      this.buffer = chunk
      return
    }
    const joined = new Uint8Array(this.buffer.length + chunk.length)
    joined.set(this.buffer)
    joined.set(chunk, this.buffer.length)
    this.buffer = joined
  }

  private consume(n: number): Uint8Array {
    const out = this.buffer.subarray(0, n)
    this.buffer = this.buffer.subarray(n)
    return out
  }

  readonly read: Effect.Effect<Option.Option<Uint8Array>, TlsError> = Effect.suspend(() => {
    if (this.buffer.length > 0) return Effect.succeed(Option.some(this.consume(this.buffer.length)))
    return Effect.map(this.fill, (more) => (more ? Option.some(this.consume(this.buffer.length)) : Option.none()))
  })

  readExactly(n: number): Effect.Effect<Uint8Array, TlsError> {
    const go: Effect.Effect<Uint8Array, TlsError> = Effect.suspend(() => {
      if (this.buffer.length >= n) return Effect.succeed(this.consume(n))
      return Effect.flatMap(this.fill, (more) =>
        more
          ? go
          : Effect.fail(new TlsStateError({ reason: "EndOfStream", detail: `the stream ended before ${n} bytes` }))
      )
    })
    return go
  }

  readUntil(delimiter: Uint8Array | string, maxBytes: number): Effect.Effect<Uint8Array, TlsError> {
    const needle = toBytes(delimiter)
    const go: Effect.Effect<Uint8Array, TlsError> = Effect.suspend(() => {
      const at = Buffer.from(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length).indexOf(needle)
      if (at !== -1 && at <= maxBytes) {
        const frame = this.consume(at)
        this.consume(needle.length)
        return Effect.succeed(frame)
      }
      if (this.buffer.length > maxBytes + needle.length) {
        return Effect.fail(
          new TlsStateError({ reason: "FrameTooLong", detail: `no delimiter within ${maxBytes} bytes` })
        )
      }
      return Effect.flatMap(this.fill, (more) =>
        more
          ? go
          : Effect.fail(new TlsStateError({ reason: "EndOfStream", detail: "the stream ended before the delimiter" }))
      )
    })
    return go
  }

  write(chunk: Uint8Array | string): Effect.Effect<void, TlsError> {
    return Effect.suspend(() => {
      const error = this.guard()
      if (error !== undefined) return Effect.fail(error)
      const bytes = toBytes(chunk)
      if (bytes.length > 0) this.transport.write(bytes)
      return this.drained
    })
  }

  /** Waits until the transport wants more bytes again (its backpressure). */
  private readonly drained: Effect.Effect<void, TlsError> = Effect.suspend(() => {
    const error = this.guard()
    if (error !== undefined) return Effect.fail(error)
    if (this.transport.writable()) return Effect.void
    return Effect.flatMap(this.wait, () => this.drained)
  })

  /**
   * Ends plaintext use: returns the number of unconsumed bytes (an injection
   * when not zero). After it, every operation fails.
   */
  handOver(): number {
    this.upgraded = true
    return this.buffer.length
  }
}

/** The type id of `Starttls.Plaintext` handles. */
export const PlaintextTypeId: "~@effect-tls/node/Starttls/Plaintext" = "~@effect-tls/node/Starttls/Plaintext"

export const isPlaintext = (u: unknown): u is Plaintext => Predicate.hasProperty(u, PlaintextTypeId)

const channelOf = (self: Plaintext): PlaintextChannel | undefined =>
  "channel" in self && self.channel instanceof PlaintextChannel ? self.channel : undefined

/** The transport under what an upgrade runs over. */
export const transportOf = (over: Transport | Plaintext): Transport => (isPlaintext(over) ? over.transport : over)

/**
 * Ends the prologue: the transport to run TLS over, or the injection error
 * when the prologue left bytes unconsumed (the transport is then destroyed
 * before any TLS byte is sent).
 */
export const handOver = (over: Transport | Plaintext): Transport | TlsHandshakeError => {
  if (!isPlaintext(over)) return over
  const channel = channelOf(over)
  const leftover = channel === undefined ? 0 : channel.handOver()
  if (leftover > 0) {
    over.transport.destroy()
    return new TlsHandshakeError({
      reason: "PlaintextInjection",
      detail: `${leftover} bytes of plaintext arrived after the STARTTLS point and were not consumed by the prologue`
    })
  }
  return over.transport
}
