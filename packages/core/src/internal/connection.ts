import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { CloseOutcome } from "../CloseOutcome.ts"
import type { Engine, InboundState } from "../Engine.ts"
import type * as TlsConnection from "../TlsConnection.ts"
import {
  TlsConfigError,
  type TlsError,
  TlsHandshakeError,
  TlsProtocolError,
  TlsStateError,
  TlsTruncationError
} from "../TlsError.ts"
import { TlsEvent } from "../TlsEvent.ts"
import type { TlsSession } from "../TlsSession.ts"
import type { Transport } from "../Transport.ts"
import { ChunkList } from "./buffers/chunkList.ts"
import { ReadBuffer } from "./buffers/readBuffer.ts"
import { WaitList } from "./buffers/waitList.ts"
import { WriteBuffer } from "./buffers/writeBuffer.ts"
import { EventHub } from "./eventHub.ts"
import * as Metrics from "./metrics.ts"
import { Signal } from "./signal.ts"

/** @internal */
export const TypeId: "~@effect-tls/core/TlsConnection" = "~@effect-tls/core/TlsConnection"

/** @internal */
export const isTlsConnection = (u: unknown): u is TlsConnection.TlsConnection => Predicate.hasProperty(u, TypeId)

/** @internal */
export const defaultOptions = {
  readBufferBytes: 64 * 1024,
  writeBufferBytes: 64 * 1024,
  controlBufferBytes: 64 * 1024,
  handshakeTimeout: Duration.seconds(10),
  closeTimeout: Duration.seconds(5),
  eventBufferSize: 64
} as const

/** Rounds of moving data per step before the IO fiber yields to the application fibers. */
const MAX_ROUNDS = 64

/** The most plaintext a TLS record carries: the largest piece of a write fed to the engine at once. */
const RECORD_PLAINTEXT_BYTES = 16 * 1024
/** The largest TLS record on the wire: header, 2^14 bytes and the most expansion RFC 8446 allows. */
const RECORD_CIPHERTEXT_BYTES = 5 + RECORD_PLAINTEXT_BYTES + 256

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === "string" ? encoder.encode(chunk) : chunk)

const resolveOptions = (options: TlsConnection.ConnectionOptions) =>
  Effect.suspend(() => {
    const sizes = {
      readBufferBytes: options.readBufferBytes ?? defaultOptions.readBufferBytes,
      writeBufferBytes: options.writeBufferBytes ?? defaultOptions.writeBufferBytes,
      controlBufferBytes: options.controlBufferBytes ?? defaultOptions.controlBufferBytes,
      eventBufferSize: options.eventBufferSize ?? defaultOptions.eventBufferSize
    }
    for (const [name, value] of Object.entries(sizes)) {
      if (!Number.isSafeInteger(value) || value <= 0) {
        return Effect.fail(
          new TlsConfigError({ reason: "InvalidOption", detail: `${name} must be a positive integer, got ${value}` })
        )
      }
    }
    const handshakeTimeout = Duration.fromInput(options.handshakeTimeout ?? defaultOptions.handshakeTimeout)
    const closeTimeout = Duration.fromInput(options.closeTimeout ?? defaultOptions.closeTimeout)
    if (handshakeTimeout._tag === "None" || closeTimeout._tag === "None") {
      return Effect.fail(
        new TlsConfigError({ reason: "InvalidOption", detail: "invalid handshakeTimeout or closeTimeout" })
      )
    }
    return Effect.succeed({ ...sizes, handshakeTimeout: handshakeTimeout.value, closeTimeout: closeTimeout.value })
  })

/**
 * The IO side of one connection. Everything that touches the engine or the
 * transport is in `step`, which only the IO fiber runs.
 */
class Driver {
  readonly signal = new Signal()
  readonly readBuffer: ReadBuffer
  readonly writeBuffer: WriteBuffer
  readonly hub: EventHub
  /** Woken whenever the handshake, the flush state, the write side or the outcome may have changed. */
  readonly progress = new WaitList()
  /** Changes at the end of every step (IO fiber) and at the end; read by the fibers in `awaitProgress`. */
  private progressVersion = 0

  // Outbound invariant: ciphertext taken from the engine waits here, in order,
  // until the transport takes it. Application plaintext is fed to the engine
  // in pieces of at most one record, and only while this holds less than the
  // write limit W; the engine itself holds at most two records it has not
  // handed on (`plaintextWritable`). So application data here is at most
  // W + 3 records of ciphertext (R), and what accumulates beyond that is
  // control output (alerts, KeyUpdate answers, close_notify). Reading the
  // transport pauses while this holds `readPauseBytes` = W + 3R + C (C: the
  // control buffer): a writer blocked by a peer that does not read never stops
  // reads, and control output produced meanwhile waits in at most C bytes.
  private readonly outbox = new ChunkList()
  private readonly readPauseBytes: number

  private handshakeReported = false
  private plaintextDrained = false
  /** Set when a step stopped at the round limit with work left: the loop yields, then steps again. */
  private yieldNow = false
  private transportEofFed = false
  private closeNotifyQueued = false
  private finQueued = false
  writeSideDone = false
  inboundEnd: InboundState | undefined = undefined
  failure: TlsError | undefined = undefined
  outcome: CloseOutcome | undefined = undefined
  /** Read from the engine by the IO fiber when the handshake completes. */
  session: TlsSession | undefined = undefined
  bytesRead = 0
  bytesWritten = 0
  /** The most accepted bytes a pending `flush` waits for: written by `flush` callers, read by the IO fiber. */
  private flushWanted = 0
  /**
   * Plaintext bytes (of those given to the engine, in order) known to have
   * been handed to the transport: written by the IO fiber, read by `flush`.
   */
  private flushedBytes = 0

  readonly engine: Engine
  readonly transport: Transport

  constructor(
    engine: Engine,
    transport: Transport,
    options: {
      readonly readBufferBytes: number
      readonly writeBufferBytes: number
      readonly controlBufferBytes: number
      readonly eventBufferSize: number
    }
  ) {
    this.engine = engine
    this.transport = transport
    this.readBuffer = new ReadBuffer(options.readBufferBytes, this.signal.wake)
    this.writeBuffer = new WriteBuffer(options.writeBufferBytes, this.signal.wake)
    this.readPauseBytes = options.writeBufferBytes + 3 * RECORD_CIPHERTEXT_BYTES + options.controlBufferBytes
    this.hub = new EventHub(options.eventBufferSize)
  }

  /** The IO fiber: step until both directions are done or the connection failed. */
  readonly run: Effect.Effect<void> = Effect.suspend(() => {
    this.engine.setWaker(this.signal.wake)
    this.transport.setWaker(this.signal.wake)
    if (
      !this.guard(() => {
        this.engine.start()
        return true
      })
    ) {
      return Effect.void
    }
    // Built once: a wake-up costs one turn of this loop, with nothing allocated
    // here but the continuation.
    const step = () => this.step()
    const again = () => loop
    const sleep = Effect.flatMap(this.signal.await, again)
    const yieldThenStep = Effect.flatMap(Effect.yieldNow, again)
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (!this.guard(step)) return Effect.void
      if (this.yieldNow) {
        this.yieldNow = false
        return yieldThenStep
      }
      return sleep
    })
    return loop
  })

  /** Runs `f`, turning a thrown exception into a fatal error. False when the connection is over. */
  private guard(f: () => boolean): boolean {
    if (this.outcome !== undefined) return false
    try {
      return f()
    } catch (cause) {
      this.fail(new TlsProtocolError({ reason: "Other", detail: "the engine or transport threw", cause }))
      return false
    }
  }

  // Inbound invariant: plaintext moves to the read buffer only while it has
  // space, and ciphertext moves into the engine only while the engine wants it
  // (its undelivered plaintext is below a record) and the outbox is below the
  // control limit; otherwise the transport is left unread and its own buffer
  // fills, which is TCP backpressure on the peer.
  private moveInbound(): boolean {
    const { engine, transport, readBuffer } = this
    let moved = false
    this.plaintextDrained = false
    while (readBuffer.ioHasSpace()) {
      const chunk = engine.takePlaintext()
      if (chunk === undefined) {
        this.plaintextDrained = true
        break
      }
      this.bytesRead += chunk.length
      readBuffer.push(chunk)
      moved = true
    }
    while (!this.transportEofFed && engine.wantsCiphertext() && this.outbox.bytes < this.readPauseBytes) {
      const chunk = transport.read()
      if (chunk !== undefined) {
        engine.receiveCiphertext(chunk)
      } else if (transport.readEnded()) {
        this.transportEofFed = true
        engine.receiveEnd()
      } else {
        break
      }
      moved = true
    }
    return moved
  }

  // Outbound invariant: application plaintext enters the engine only after the
  // handshake, in order, in pieces of at most a record (a native engine takes
  // whole writes: it has no outbox to bound), while the engine takes it and
  // the outbox is below the write limit; close_notify follows the last
  // accepted write. Control output leaves together with application data, in
  // the order the engine produced it, as soon as the transport takes it.
  // Nothing is sent after the FIN: output the engine still produces then (an
  // answer to a KeyUpdate that came after our close_notify) is dropped.
  private moveOutbound(): boolean {
    const { engine, transport, writeBuffer, outbox } = this
    let moved = false
    if (!this.handshakeReported && engine.handshakeDone()) this.reportHandshake()
    if (this.handshakeReported) {
      const cut = !engine.native
      while (!writeBuffer.isEmpty && outbox.bytes < writeBuffer.limit && engine.plaintextWritable()) {
        const piece = writeBuffer.take(RECORD_PLAINTEXT_BYTES, cut) as Uint8Array
        this.bytesWritten += piece.length
        engine.sendPlaintext(piece)
        moved = true
      }
      if (writeBuffer.endRequested && writeBuffer.isEmpty && !this.closeNotifyQueued) {
        this.closeNotifyQueued = true
        engine.sendEnd()
        this.hub.publish(TlsEvent.CloseNotifySent())
        moved = true
      }
    }
    for (let chunk = engine.takeCiphertext(); chunk !== undefined; chunk = engine.takeCiphertext()) {
      if (!this.finQueued) outbox.push(chunk)
    }
    while (!outbox.isEmpty && transport.writable()) {
      transport.write(outbox.shift() as Uint8Array)
      moved = true
    }
    if (this.closeNotifyQueued && !this.finQueued && outbox.isEmpty && !engine.outboundPending()) {
      this.finQueued = true
      if (!engine.native) transport.end()
      moved = true
    }
    return moved
  }

  /**
   * Moves everything that can move now, in rounds until nothing moves (or a
   * round limit, for fairness with the application fibers: then `yieldNow`
   * is set and the loop yields before the next step). Returns false when the
   * connection is over.
   */
  private step(): boolean {
    const { engine } = this
    for (let rounds = 0; ; rounds++) {
      const movedIn = this.moveInbound()
      const movedOut = this.moveOutbound()
      if (!(movedIn || movedOut) || engine.failure() !== undefined) break
      if (rounds >= MAX_ROUNDS) {
        this.yieldNow = true
        break
      }
    }
    if (
      this.finQueued &&
      !this.writeSideDone &&
      (engine.native ? engine.outboundEnded() : this.transport.endFinished())
    ) {
      this.writeSideDone = true
      // Everything given to the engine went out before its close_notify.
      this.flushedBytes = this.bytesWritten
    }
    for (const event of engine.takeEvents()) this.hub.publish(event)

    const failure = engine.failure() ?? this.transport.failure()
    if (failure !== undefined) {
      this.fail(failure)
      return false
    }

    if (this.inboundEnd === undefined && this.plaintextDrained) {
      const inbound = engine.inbound()
      if (inbound !== "Open") {
        this.inboundEnd = inbound
        if (inbound === "Truncated") {
          this.readBuffer.finish({
            _tag: "Fail",
            error: new TlsTruncationError({
              reason: "EndWithoutCloseNotify",
              detail: "the transport ended without close_notify"
            })
          })
        } else {
          if (inbound === "CloseNotify") this.hub.publish(TlsEvent.CloseNotifyReceived())
          this.readBuffer.finish({ _tag: "End" })
        }
      }
    }

    if (this.inboundEnd !== undefined && this.writeSideDone) {
      this.release()
      this.finish(this.endedOutcome())
      return false
    }
    // Asked only while a flush waits: a TLSSocket engine then wakes the IO
    // fiber when its writes complete, which costs a step per write otherwise.
    if (this.flushWanted > this.flushedBytes && this.outbox.isEmpty && !engine.outboundPending()) {
      this.flushedBytes = this.bytesWritten
    }
    this.writeBuffer.wakeWriters()
    this.readBuffer.wakeReaders()
    this.progressVersion++
    this.progress.wakeAll()
    return true
  }

  private reportHandshake(): void {
    this.handshakeReported = true
    this.session = this.engine.session()
    this.hub.publish(TlsEvent.HandshakeDone({ session: this.session }))
  }

  private endedOutcome(): CloseOutcome {
    if (this.inboundEnd === "Truncated") return CloseOutcome.Truncated()
    return CloseOutcome.Clean({
      closeNotifyReceived: this.inboundEnd === "CloseNotify",
      closeNotifySent: this.closeNotifyQueued && this.writeSideDone
    })
  }

  private release(): void {
    this.transport.destroy()
    this.engine.destroy()
  }

  private finish(outcome: CloseOutcome): void {
    if (this.outcome !== undefined) return
    this.outcome = outcome
    this.hub.end()
    this.progressVersion++
    this.progress.wakeAll()
  }

  /** Fatal error: the transport is destroyed and both halves fail with `error`. */
  fail(error: TlsError): void {
    if (this.failure !== undefined || this.outcome !== undefined) return
    this.failure = error
    try {
      for (const event of this.engine.takeEvents()) this.hub.publish(event)
      // Best effort, never waiting: the fatal alert the engine produced goes
      // out if the transport takes it now, so the peer learns why.
      if (!this.engine.native) {
        for (let chunk = this.engine.takeCiphertext(); chunk !== undefined; chunk = this.engine.takeCiphertext()) {
          this.outbox.push(chunk)
        }
        while (!this.outbox.isEmpty && this.transport.writable())
          this.transport.write(this.outbox.shift() as Uint8Array)
      }
    } catch {
      // The engine or transport is already broken; its last output is lost, the error is not.
    }
    this.release()
    // The write half is failed first: waking a reader resumes its fiber
    // synchronously, and it must not find the write half still accepting.
    this.writeBuffer.fail(error)
    this.readBuffer.finish({ _tag: "Fail", error })
    this.finish(CloseOutcome.Failed({ error }))
  }

  /** Waits until `check` returns an effect; it is re-evaluated after every step of the IO fiber. */
  awaitProgress<A>(check: () => Effect.Effect<A, TlsError> | undefined): Effect.Effect<A, TlsError> {
    const go: Effect.Effect<A, TlsError> = Effect.suspend(() => {
      const done = check()
      if (done !== undefined) return done
      const seen = this.progressVersion
      return Effect.flatMap(
        this.progress.wait(() => this.progressVersion !== seen, 0),
        () => go
      )
    })
    return go
  }

  private closedError(): TlsError {
    return this.failure ?? new TlsStateError({ reason: "ConnectionClosed", detail: "the connection is closed" })
  }

  // The effects below are built when used, not per connection: an idle
  // connection should cost little memory.
  /**
   * Completes once the bytes accepted before it was called were handed to the
   * transport. The IO fiber decides that (`flushedBytes`): the engine is
   * asked only from its own fiber.
   */
  get flush(): Effect.Effect<void, TlsError> {
    return Effect.suspend(() => {
      const target = this.writeBuffer.acceptedBytes
      if (target > this.flushWanted) {
        this.flushWanted = target
        this.signal.wake()
      }
      return this.awaitProgress(() => {
        if (this.failure !== undefined) return Effect.fail(this.failure)
        if (this.flushedBytes >= target) return Effect.void
        if (this.outcome !== undefined) return Effect.fail(this.closedError())
        return undefined
      })
    })
  }

  get end(): Effect.Effect<void, TlsError> {
    return Effect.suspend(() => {
      this.writeBuffer.requestEnd()
      return this.awaitProgress(() => {
        if (this.writeSideDone) return Effect.void
        if (this.outcome !== undefined) return Effect.fail(this.closedError())
        return undefined
      })
    })
  }

  get awaitHandshake(): Effect.Effect<void, TlsError> {
    return this.awaitProgress(() => {
      if (this.handshakeReported) return Effect.void
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.outcome !== undefined) return Effect.fail(this.closedError())
      return undefined
    })
  }

  get closed(): Effect.Effect<CloseOutcome> {
    return this.awaitProgress(() =>
      this.outcome === undefined ? undefined : Effect.succeed(this.outcome)
    ) as Effect.Effect<CloseOutcome>
  }

  /** Ends everything at once: no graceful part. */
  abort(outcome: CloseOutcome): void {
    this.release()
    // Write half first, as in `fail`: a woken reader runs at once.
    this.writeBuffer.close()
    this.readBuffer.finish({ _tag: "Closed" })
    this.finish(outcome)
  }

  /** The scope's finalizer: graceful close within `closeTimeout`, then by force. */
  close(fiber: Fiber.Fiber<void>, closeTimeout: Duration.Duration): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      let forced: string | undefined
      if (this.outcome === undefined && this.handshakeReported) {
        this.writeBuffer.requestEnd()
        const graceful = yield* this.awaitProgress(() =>
          this.writeSideDone || this.outcome !== undefined ? Effect.void : undefined
        ).pipe(Effect.ignore, Effect.timeoutOption(closeTimeout))
        if (graceful._tag === "None") {
          forced = `close_notify was not delivered within ${Duration.format(closeTimeout)}`
        }
      }
      yield* Fiber.interrupt(fiber)
      const outcome =
        this.outcome ??
        (forced !== undefined
          ? CloseOutcome.Forced({ detail: forced })
          : this.handshakeReported
            ? this.endedOutcome()
            : CloseOutcome.Forced({ detail: "closed before the handshake completed" }))
      this.abort(outcome)
      yield* Metrics.recordClose(this.engine.role, outcome, this.bytesRead, this.bytesWritten)
    })
  }
}

// The values handed to the application are class instances: the functions are
// own properties (so that `const { write } = connection.writer` works), and
// the getters sit on the prototype. An object literal with a getter is kept by
// V8 as a dictionary, about 0.8 KiB per object and connection.

class Reader implements TlsConnection.ReadHalf {
  private readonly buffer: ReadBuffer
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, TlsError>
  readonly readUntil: (
    delimiter: Uint8Array | string,
    options?: { readonly maxBytes?: number | undefined }
  ) => Effect.Effect<Uint8Array, TlsError>

  constructor(buffer: ReadBuffer) {
    this.buffer = buffer
    this.readExactly = (n) => buffer.readExactly(n)
    this.readUntil = (delimiter, options) => buffer.readUntil(toBytes(delimiter), options?.maxBytes ?? 64 * 1024)
  }

  get read(): Effect.Effect<Option.Option<Uint8Array>, TlsError> {
    return this.buffer.read
  }

  get stream(): Stream.Stream<Uint8Array, TlsError> {
    return Stream.fromPull(Effect.succeed(this.buffer.pull))
  }
}

class Writer implements TlsConnection.WriteHalf {
  private readonly driver: Driver
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, TlsError>
  readonly writeAll: (chunks: Iterable<Uint8Array | string>) => Effect.Effect<void, TlsError>

  constructor(driver: Driver) {
    this.driver = driver
    const buffer = driver.writeBuffer
    this.write = (chunk) => buffer.write([toBytes(chunk)])
    this.writeAll = (chunks) => buffer.write(Array.from(chunks, toBytes))
  }

  get flush(): Effect.Effect<void, TlsError> {
    return this.driver.flush
  }

  get end(): Effect.Effect<void, TlsError> {
    return this.driver.end
  }

  get sink(): Sink.Sink<void, Uint8Array, never, TlsError> {
    const buffer = this.driver.writeBuffer
    return Sink.mapEffect(
      Sink.forEachArray((chunks: ReadonlyArray<Uint8Array>) => buffer.write(chunks)),
      () => this.driver.end
    )
  }
}

class Connection implements TlsConnection.TlsConnection {
  readonly [TypeId]: typeof TypeId = TypeId
  readonly reader: TlsConnection.ReadHalf
  readonly writer: TlsConnection.WriteHalf
  readonly session: TlsSession
  private readonly driver: Driver

  constructor(driver: Driver, session: TlsSession) {
    this.driver = driver
    this.session = session
    this.reader = new Reader(driver.readBuffer)
    this.writer = new Writer(driver)
  }

  get events(): Stream.Stream<TlsEvent> {
    return this.driver.hub.stream
  }

  get closed(): Effect.Effect<CloseOutcome> {
    return this.driver.closed
  }

  get stats(): Effect.Effect<TlsConnection.TlsStats> {
    return Effect.sync(() => ({
      bytesRead: this.driver.bytesRead,
      bytesWritten: this.driver.bytesWritten,
      eventsDropped: this.driver.hub.droppedTotal,
      // Buffered bytes let tests (and monitoring) check the memory bounds of contract point 5.
      readBuffered: this.driver.readBuffer.bytes,
      writeBuffered: this.driver.writeBuffer.bytes
    }))
  }
}

/** @internal */
export const make = (params: {
  readonly engine: Engine
  readonly transport: Transport
  readonly options?: TlsConnection.ConnectionOptions | undefined
}): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.suspend(() => {
    // The engine and the transport are handed over by the call: until the
    // scope's finalizer owns them (`owned`), no IO fiber runs, and if this
    // effect fails or is interrupted once it has started, they are destroyed
    // here. After that, the handshake's failure path and `close` release them
    // once the IO fiber has stopped. (An effect interrupted before it starts
    // runs nothing: a caller handing them over in an uninterruptible region
    // covers that moment itself, as NodeTlsClient does.)
    const owned = { done: false }
    return Effect.onExit(makeOwned(params, owned), (exit) =>
      exit._tag === "Success" || owned.done
        ? Effect.void
        : Effect.sync(() => {
            params.transport.destroy()
            params.engine.destroy()
          })
    )
  })

const makeOwned = Effect.fnUntraced(function* (
  params: {
    readonly engine: Engine
    readonly transport: Transport
    readonly options?: TlsConnection.ConnectionOptions | undefined
  },
  owned: { done: boolean }
): Effect.fn.Return<TlsConnection.TlsConnection, TlsError, Scope.Scope> {
  const options = yield* resolveOptions(params.options ?? {})
  const driver = new Driver(params.engine, params.transport, options)
  const { handshakeTimeout, closeTimeout } = options

  const scope = yield* Effect.scope
  // One finalizer owns the IO fiber: `close` always interrupts it, so it is
  // forked detached (a scope-bound fork would add a second finalizer per
  // connection), and the fork and the finalizer happen in one uninterruptible
  // step, so the fiber is never left without its finalizer. It starts at once
  // rather than on the scheduler's next turn: the engine starts (and a client
  // sends its hello) without waiting for an event-loop turn.
  const fiber = yield* Effect.uninterruptible(
    Effect.tap(Effect.forkDetach(driver.run, { startImmediately: true }), (fiber) =>
      Effect.map(
        Scope.addFinalizerExit(scope, () => driver.close(fiber, closeTimeout)),
        () => {
          owned.done = true
        }
      )
    )
  )

  const started = yield* Clock.currentTimeMillis
  yield* driver.awaitHandshake.pipe(
    Effect.timeoutOrElse({
      duration: handshakeTimeout,
      orElse: () =>
        Effect.fail(
          new TlsHandshakeError({
            reason: "Timeout",
            detail: `no handshake within ${Duration.format(handshakeTimeout)}`
          })
        )
    }),
    // On failure, timeout or interruption the IO fiber is stopped first, so
    // that it is not running when the engine and transport are released here.
    Effect.onExit((exit) =>
      exit._tag === "Success"
        ? Effect.void
        : Effect.flatMap(Fiber.interrupt(fiber), () =>
            Effect.sync(() => {
              const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
              if (failure !== undefined && failure._tag === "Fail") {
                driver.fail(failure.error)
              } else {
                driver.abort(CloseOutcome.Forced({ detail: "interrupted during the handshake" }))
              }
            })
          )
    ),
    // No `tapError(Metrics.recordError)` here: a failed handshake leaves the
    // driver `Failed`, and the scope's finalizer (`close`) counts that error in
    // `recordClose`; counting it here too reported every handshake failure twice.
    // No call-site stack: capturing one costs more than a resumed handshake.
    Effect.withSpan(
      "TlsConnection.handshake",
      { attributes: { "tls.role": params.engine.role } },
      { captureStackTrace: false }
    )
  )

  const session = driver.session
  if (session === undefined) {
    // The IO fiber records the session in the same step that reports the handshake.
    return yield* Effect.die(new Error("effect-tls: handshake reported without a session"))
  }
  const elapsed = (yield* Clock.currentTimeMillis) - started
  yield* Metrics.recordHandshake(session.role, session.resumed, elapsed)

  return new Connection(driver, session)
})
