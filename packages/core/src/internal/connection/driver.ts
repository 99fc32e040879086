/**
 * The IO side of one connection: the IO fiber's loop and its step, the only
 * code that calls the engine or the transport (contract point 1), and the
 * waits application fibers use to see its progress.
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { CloseOutcome } from "../../CloseOutcome.ts"
import type { Engine } from "../../Engine.ts"
import {
  ConnectionClosed,
  EndWithoutCloseNotify,
  Other,
  Stalled,
  type TlsError,
  TlsProtocolError,
  TlsStateError,
  TlsTruncationError
} from "../../TlsError.ts"
import { TlsEvent } from "../../TlsEvent.ts"
import type { Transport } from "../../Transport.ts"
import { ChunkList } from "../buffers/chunkList.ts"
import { ReadBuffer } from "../buffers/readBuffer.ts"
import { WaitList } from "../buffers/waitList.ts"
import { WriteBuffer } from "../buffers/writeBuffer.ts"
import {
  COALESCE_BELOW_BYTES,
  MAX_ROUNDS_PER_STEP,
  RECORD_CIPHERTEXT_BYTES,
  RECORD_PLAINTEXT_BYTES,
  STEPS_PER_WAKE
} from "../constants.ts"
import { EventHub } from "../eventHub.ts"
import * as Deadline from "./deadline.ts"
import * as Phase from "./phase.ts"
import { Signal } from "./signal.ts"

/** The sizes and bounds a driver is built with (checked by the options). */
export interface DriverSizes {
  readonly readBufferBytes: number
  readonly writeBufferBytes: number
  readonly controlBufferBytes: number
  readonly eventBufferSize: number
  /** How long `flush` and `end` wait for the transport to take anything before they fail `Stalled`. */
  readonly stallTimeout: Duration.Duration
}

/**
 * The outbox of every connection over a native engine, which never produces
 * ciphertext for the driver to move: it stays empty (the driver fails a
 * native engine that hands it ciphertext before anything is pushed). A plain
 * ChunkList, so that the buffers' code sees one class.
 */
const noOutbox = new ChunkList()

/**
 * Field ownership, as Go's `crypto/tls.Conn` documents it:
 * - IO fiber only: `receive`, `send` (read by `end` and the close through
 *   `awaitProgress`), `outbox`, `yieldNow`, `plaintextDrained`.
 * - Written by the IO fiber (or, once it has stopped, by the close and the
 *   failed handshake through `fail` and `abort`), read by application fibers:
 *   `lifecycle`, `bytesRead`, `bytesWritten`, `flushedBytes`,
 *   `outboundProgress`, `progressVersion`. A change of `lifecycle` or
 *   `flushedBytes`, and `send` reaching `Done`, is announced on `progress`
 *   (the waits look only at those, and at their deadlines: no wait waits for
 *   the send direction's other phases, so announcing them would wake every
 *   wait for nothing); the `announced*` fields are what was announced last.
 * - Written by application fibers, read by the IO fiber: `flushWanted`,
 *   `sendWaiters`, and the buffers' shared state (see `ReadBuffer` and
 *   `WriteBuffer`).
 * - Written by `awaitSending` and, while `sendWaiters` > 0, by the IO fiber:
 *   `sendProgressSeen`, `sendMovedAt`.
 * Only the IO fiber calls the engine and the transport, except `destroy`,
 * which the close calls once the IO fiber has stopped (see `Engine`).
 */
export class Driver {
  readonly engine: Engine
  readonly transport: Transport
  readonly signal = new Signal()
  readonly readBuffer: ReadBuffer
  readonly writeBuffer: WriteBuffer
  readonly hub: EventHub

  private lifecycleState: Phase.Lifecycle
  private receive: Phase.Receive = Phase.reading
  private sendState: Phase.Send = Phase.sending

  /**
   * Application fibers waiting for the lifecycle, the send direction or the
   * flush state to change: made by a wait, dropped by `announce` once nobody
   * waits (see there).
   */
  private progressWaiters: WaitList | undefined = undefined
  private progressVersion = 0
  private announcedLifecycle: Phase.Lifecycle
  private announcedSendDone = false
  private announcedFlushed = 0

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
  // A native engine has none (it writes its own ciphertext): every native
  // connection shares one outbox that stays empty (see `noOutbox`).
  private readonly outbox: ChunkList
  private readonly readPauseBytes: number

  /** A step stopped at the round limit with work left: the loop yields, then steps again. */
  private yieldNow = false
  /** The last `moveInbound` found the engine without plaintext: its inbound end may be reported. */
  private plaintextDrained = false

  bytesRead = 0
  bytesWritten = 0
  /** The most accepted bytes a pending `flush` waits for. */
  private flushWanted = 0
  /** Plaintext bytes (of those given to the engine, in order) known to have been handed to the transport. */
  private flushedBytesCount = 0
  /** Changes whenever the send direction moves: plaintext to the engine, ciphertext or the FIN to the transport. */
  private outboundProgress = 0
  private readonly stallTimeout: Duration.Duration
  /** The clock of the fiber that made the connection: the stall bound's time. */
  private readonly clock: Clock.Clock
  /** `flush` and `end` calls waiting on the send direction. */
  private sendWaiters = 0
  /** `outboundProgress` when `sendMovedAt` was last taken. */
  private sendProgressSeen = 0
  /** When the send direction was last seen to move (or a send started waiting), in the clock's milliseconds. */
  private sendMovedAt = 0
  /** The IO fiber running `run`: written once by the connection's make, in the step that forks it; read by its close. */
  ioFiber: Fiber.Fiber<void> | undefined = undefined
  /** Set by the first close (see `Lifecycle.close`); a later one waits for it. */
  closing = false

  constructor(engine: Engine, transport: Transport, sizes: DriverSizes, clock: Clock.Clock) {
    this.engine = engine
    this.transport = transport
    this.clock = clock
    this.lifecycleState = engine.connectingTo?.() === undefined ? Phase.handshaking : Phase.connecting
    this.announcedLifecycle = this.lifecycleState
    this.readBuffer = new ReadBuffer(sizes.readBufferBytes, this.signal.wake)
    this.writeBuffer = new WriteBuffer(sizes.writeBufferBytes, this.signal.wake, engine.allocatePlaintext)
    this.outbox = engine.native ? noOutbox : new ChunkList()
    this.readPauseBytes = sizes.writeBufferBytes + 3 * RECORD_CIPHERTEXT_BYTES + sizes.controlBufferBytes
    this.hub = new EventHub(sizes.eventBufferSize, engine.replayTickets !== false)
    this.stallTimeout = sizes.stallTimeout
  }

  // --- what application fibers read ---------------------------------------------

  get lifecycle(): Phase.Lifecycle {
    return this.lifecycleState
  }

  get send(): Phase.Send {
    return this.sendState
  }

  /** The bound on the graceful part of the close: the stall bound, by definition (see `closeTimeout`). */
  get closeTimeout(): Duration.Duration {
    return this.stallTimeout
  }

  get flushedBytes(): number {
    return this.flushedBytesCount
  }

  /** The error of an operation refused because the connection is over. */
  closedError(): TlsError {
    return (
      Phase.failureOf(this.lifecycleState) ??
      new TlsStateError({ reason: new ConnectionClosed({ detail: "the connection is closed" }) })
    )
  }

  /** How the connection ended, or would end now (see `Phase.outcomeOf`). */
  outcome(forced?: string): CloseOutcome {
    return Phase.outcomeOf(this.lifecycleState, this.receive, this.sendState, forced)
  }

  /**
   * A deadline's expiry (the driver is the owner of every deadline of its
   * connection, see `Deadline.Owner`): every `awaitProgress` and
   * `awaitSending` looks again, so that a wait bounded by it ends.
   */
  expire(): void {
    this.announce()
  }

  /** A flush waits for `target` accepted bytes: the IO fiber watches for them from its next step. */
  wantFlush(target: number): void {
    if (target <= this.flushWanted) return
    this.flushWanted = target
    this.signal.wake()
  }

  private progress(): WaitList {
    this.progressWaiters ??= new WaitList()
    return this.progressWaiters
  }

  /** Waits until `check` returns an effect; it is re-evaluated after every step of the IO fiber. */
  awaitProgress<A, E>(check: () => Effect.Effect<A, E> | undefined): Effect.Effect<A, E> {
    const go: Effect.Effect<A, E> = Effect.suspend(() => {
      const result = check()
      if (result !== undefined) return result
      const seen = this.progressVersion
      return Effect.flatMap(
        this.progress().wait(() => this.progressVersion !== seen, 0),
        () => go
      )
    })
    return go
  }

  /**
   * `awaitProgress` for `flush` and `end`: fails `Stalled` once the send
   * direction has not moved for the stall bound (a peer that stopped reading),
   * leaving the connection as it is. One deadline per wait, moved on when the
   * send direction moved meanwhile: while a send waits, the IO fiber notes
   * when it last moved (`sendMovedAt`).
   */
  awaitSending<A>(what: string, check: () => Effect.Effect<A, TlsError> | undefined): Effect.Effect<A, TlsError> {
    return Effect.withFiber((fiber) => {
      const first = check()
      if (first !== undefined) return first
      const bound = Duration.toMillis(this.stallTimeout)
      this.sendWaiters++
      if (this.sendWaiters === 1) {
        this.sendProgressSeen = this.outboundProgress
        this.sendMovedAt = this.clock.currentTimeMillisUnsafe()
      }
      const startFrom = (from: number): Deadline.Deadline =>
        Deadline.startUnsafe(fiber, Duration.millis(from + bound - this.clock.currentTimeMillisUnsafe()), this)
      let deadline = startFrom(this.sendMovedAt)
      const go: Effect.Effect<A, TlsError> = Effect.suspend(() => {
        const result = check()
        if (result !== undefined) return result
        if (deadline.expired) {
          if (this.outboundProgress !== this.sendProgressSeen) {
            this.sendProgressSeen = this.outboundProgress
            this.sendMovedAt = this.clock.currentTimeMillisUnsafe()
          }
          if (this.sendMovedAt + bound <= this.clock.currentTimeMillisUnsafe()) {
            return Effect.fail(
              new TlsStateError({
                reason: new Stalled({
                  detail: `${what}: the transport took nothing for ${Duration.format(this.stallTimeout)}`
                })
              })
            )
          }
          deadline = startFrom(this.sendMovedAt)
        }
        const seen = this.progressVersion
        return Effect.flatMap(
          this.progress().wait(() => this.progressVersion !== seen, 0),
          () => go
        )
      })
      return Effect.ensuring(
        go,
        Effect.sync(() => {
          deadline.cancel()
          this.sendWaiters--
        })
      )
    })
  }

  // --- the IO fiber ---------------------------------------------------------------

  /**
   * The IO fiber: step until both directions are done or the connection
   * failed. A method, made once by the fork that runs it: a field would keep
   * the effect (and its closure) for the connection's whole life.
   */
  run(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.engine.setWaker(this.signal.wake)
      this.transport.setWaker(this.signal.wake)
      if (!this.guard(startEngine)) return Effect.void
      // Built once: a wake-up costs one turn of this loop, with nothing
      // allocated here but the continuation.
      // Assigned once `loop` exists: the sleeper resumes with `loop` itself.
      let sleep: Effect.Effect<void> = Effect.void
      // Made on the first yield (most connections never step for that long).
      let yieldThenStep: Effect.Effect<void> | undefined
      const loop: Effect.Effect<void> = Effect.suspend(() => {
        // A wake-up raised during a step (a reader resumed inline that wrote at
        // once, a Node callback) is taken here: the next step runs without a
        // suspension. Bounded, so that a step that keeps waking itself still
        // goes through the scheduler.
        for (let steps = 0; ; steps++) {
          if (!this.guard(stepDriver)) return Effect.void
          if (this.yieldNow) {
            this.yieldNow = false
            yieldThenStep ??= Effect.flatMap(Effect.yieldNow, () => loop)
            return yieldThenStep
          }
          if (steps >= STEPS_PER_WAKE || !this.signal.takePending()) return sleep
        }
      })
      sleep = this.signal.awaitThen(loop)
      return loop
    })
  }

  /**
   * Runs `f` on this driver, turning a thrown exception into a fatal error.
   * False when the connection is over. `f` is one of the module's functions
   * (`startEngine`, `stepDriver`), not a closure: the loop holds none per
   * connection for it.
   */
  private guard(f: (driver: Driver) => boolean): boolean {
    if (this.lifecycleState._tag === "Closed") return false
    try {
      return f(this)
    } catch (cause) {
      this.fail(new TlsProtocolError({ reason: new Other({ detail: "the engine or transport threw", cause }) }))
      return false
    }
  }

  /** The engine's start: the IO fiber's, once, by `run` (through `guard`). */
  startEngine(): boolean {
    this.engine.start()
    return true
  }

  // Inbound invariant: plaintext moves to the read buffer only while it has
  // space, and ciphertext moves into the engine only while the engine wants it
  // (its undelivered plaintext is below a record) and the outbox is below
  // `readPauseBytes`; otherwise the transport is left unread and its own
  // buffer fills, which is TCP backpressure on the peer.
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
    while (this.receive._tag === "Reading" && engine.wantsCiphertext() && this.outbox.bytes < this.readPauseBytes) {
      const chunk = transport.read()
      if (chunk !== undefined) {
        engine.receiveCiphertext(chunk)
      } else if (transport.readEnded()) {
        this.receive = Phase.draining
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
  // whole writes, and the small ones joined: it has no outbox to bound, and
  // cuts its records itself; an engine that cuts its records and produces
  // ciphertext takes joined small writes up to the outbox's room, so the
  // outbox stays within a record of its limit), while the engine takes it and
  // the outbox is below the write limit; close_notify follows the last
  // accepted write. Control output leaves together with application data, in
  // the order the engine produced it, as soon as the transport takes it.
  // Nothing is sent after the FIN: output the engine still produces then (an
  // answer to a KeyUpdate that came after our close_notify) is dropped.
  private moveOutbound(): boolean {
    const { engine, transport, writeBuffer, outbox } = this
    let moved = false
    if (this.lifecycleState._tag === "Connecting" && engine.connectingTo?.() === undefined) {
      this.lifecycleState = Phase.handshaking
    }
    if (this.lifecycleState._tag === "Handshaking" && engine.handshakeDone()) this.established()
    if (this.lifecycleState._tag === "Established") {
      const cutAt = engine.native ? undefined : RECORD_PLAINTEXT_BYTES
      while (!writeBuffer.isEmpty && outbox.bytes < writeBuffer.limit && engine.plaintextWritable()) {
        // An engine that cuts its records itself takes a run of small writes
        // in one piece, not a piece (and a system call) per record: a native
        // engine everything buffered, one that produces ciphertext what fits in
        // the outbox's room (the write buffer's limit and one small write:
        // a full buffer leaves whole, and the outbox stays within a record of
        // its limit). Any other engine takes at most a record per piece.
        const joinMax = engine.native
          ? writeBuffer.bytes
          : engine.cutsRecords === true
            ? Math.max(RECORD_PLAINTEXT_BYTES, writeBuffer.limit + COALESCE_BELOW_BYTES - outbox.bytes)
            : RECORD_PLAINTEXT_BYTES
        const piece = writeBuffer.take(joinMax, cutAt) as Uint8Array
        this.bytesWritten += piece.length
        engine.sendPlaintext(piece)
        this.outboundProgress++
        moved = true
      }
      if (this.sendState._tag === "Sending" && writeBuffer.endRequested && writeBuffer.isEmpty) {
        this.sendState = Phase.notifying
        engine.sendEnd()
        this.hub.publish(TlsEvent.CloseNotifySent())
        moved = true
      }
    }
    const afterFin = this.sendState._tag === "Finishing" || this.sendState._tag === "Done"
    for (let chunk = engine.takeCiphertext(); chunk !== undefined; chunk = engine.takeCiphertext()) {
      // Thrown, so that `guard` fails the connection: a native engine's outbox is shared (`noOutbox`).
      if (engine.native) throw new Error("a native engine produced ciphertext for the driver")
      if (!afterFin) outbox.push(chunk)
    }
    while (!outbox.isEmpty && transport.writable()) {
      transport.write(outbox.shift() as Uint8Array)
      this.outboundProgress++
      moved = true
    }
    if (this.sendState._tag === "Notifying" && outbox.isEmpty && !engine.outboundPending()) {
      this.sendState = Phase.finishing
      if (!engine.native) transport.end()
      this.outboundProgress++
      moved = true
    }
    return moved
  }

  /**
   * Moves everything that can move now, in rounds until nothing moves (or a
   * round limit, for fairness with the application fibers: then `yieldNow`
   * is set and the loop yields before the next step), then settles the
   * directions' phases and wakes whoever waits. Returns false when the
   * connection is over. The IO fiber's only (through `guard`).
   */
  step(): boolean {
    const { engine } = this
    for (let rounds = 0; ; rounds++) {
      const movedIn = this.moveInbound()
      const movedOut = this.moveOutbound()
      if (!(movedIn || movedOut) || engine.failure() !== undefined) break
      if (rounds >= MAX_ROUNDS_PER_STEP) {
        this.yieldNow = true
        break
      }
    }
    if (
      this.sendState._tag === "Finishing" &&
      (engine.native ? engine.outboundEnded() : this.transport.endFinished())
    ) {
      this.sendState = Phase.done
      // Everything given to the engine went out before its close_notify.
      this.flushedBytesCount = this.bytesWritten
      this.outboundProgress++
    }
    for (const event of engine.takeEvents()) this.hub.publish(event)

    const failure = engine.failure() ?? this.transport.failure()
    if (failure !== undefined) {
      this.fail(failure)
      return false
    }

    if (this.receive._tag !== "Ended" && this.plaintextDrained) this.settleReceive()

    if (this.receive._tag === "Ended" && this.sendState._tag === "Done") {
      this.release()
      this.settle(this.outcome())
      return false
    }
    // Asked only while a flush waits: a TLSSocket engine then wakes the IO
    // fiber when its writes complete, which costs a step per write otherwise.
    if (this.flushWanted > this.flushedBytesCount && this.outbox.isEmpty && !engine.outboundPending()) {
      if (this.flushedBytesCount !== this.bytesWritten) this.outboundProgress++
      this.flushedBytesCount = this.bytesWritten
    }
    if (this.sendWaiters > 0 && this.outboundProgress !== this.sendProgressSeen) {
      this.sendProgressSeen = this.outboundProgress
      this.sendMovedAt = this.clock.currentTimeMillisUnsafe()
    }
    this.writeBuffer.wakeWriters()
    this.readBuffer.wakeReaders()
    if (
      this.lifecycleState !== this.announcedLifecycle ||
      (this.sendState._tag === "Done") !== this.announcedSendDone ||
      this.flushedBytesCount !== this.announcedFlushed
    ) {
      this.announce()
    }
    return true
  }

  /** The engine's inbound side ended (every plaintext chunk was taken): the read buffer learns how. */
  private settleReceive(): void {
    const inbound = this.engine.inbound()
    if (inbound === "Open") return
    this.receive = Phase.ended(inbound)
    if (inbound === "Truncated") {
      this.readBuffer.finish({
        _tag: "Fail",
        error: new TlsTruncationError({
          reason: new EndWithoutCloseNotify({ detail: "the transport ended without close_notify" })
        })
      })
      return
    }
    if (inbound === "CloseNotify") this.hub.publish(TlsEvent.CloseNotifyReceived())
    this.readBuffer.finish({ _tag: "End" })
  }

  private established(): void {
    const session = this.engine.session()
    this.lifecycleState = { _tag: "Established", session }
    this.hub.publish(TlsEvent.HandshakeDone({ session }))
  }

  private announce(): void {
    this.announcedLifecycle = this.lifecycleState
    this.announcedSendDone = this.sendState._tag === "Done"
    this.announcedFlushed = this.flushedBytesCount
    this.progressVersion++
    const waiters = this.progressWaiters
    if (waiters === undefined) return
    waiters.wakeAll()
    // Dropped once nobody waits (every connection waits for its handshake,
    // and an idle one then for nothing). A fiber that made its wait on the
    // dropped list registers only if the version is still the one it saw, and
    // it has just changed: it does not sleep there.
    if (waiters.isEmpty && this.progressWaiters === waiters) this.progressWaiters = undefined
  }

  private release(): void {
    this.transport.destroy()
    this.engine.destroy()
  }

  /** The connection is over: the outcome is final and every waiter learns it. */
  private settle(outcome: CloseOutcome): void {
    if (this.lifecycleState._tag === "Closed") return
    this.lifecycleState = { _tag: "Closed", outcome }
    this.hub.end()
    this.announce()
  }

  /** Fatal error: the transport is destroyed and both halves fail with `error`. */
  fail(error: TlsError): void {
    if (this.lifecycleState._tag === "Closed") return
    try {
      for (const event of this.engine.takeEvents()) this.hub.publish(event)
      // Best effort, never waiting: the fatal alert the engine produced goes
      // out if the transport takes it now, so the peer learns why.
      if (!this.engine.native) {
        for (let chunk = this.engine.takeCiphertext(); chunk !== undefined; chunk = this.engine.takeCiphertext()) {
          this.outbox.push(chunk)
        }
        while (!this.outbox.isEmpty && this.transport.writable()) {
          this.transport.write(this.outbox.shift() as Uint8Array)
        }
      }
    } catch {
      // The engine or transport is already broken; its last output is lost, the error is not.
    }
    this.release()
    // The write half is failed first: waking a reader resumes its fiber
    // synchronously, and it must not find the write half still accepting.
    this.writeBuffer.fail(error)
    this.readBuffer.finish({ _tag: "Fail", error })
    this.settle(CloseOutcome.Failed({ error }))
  }

  /** Ends everything at once, with `outcome`: no graceful part. Called once the IO fiber has stopped. */
  abort(outcome: CloseOutcome): void {
    this.release()
    // Write half first, as in `fail`: a woken reader runs at once.
    this.writeBuffer.close()
    this.readBuffer.finish({ _tag: "Closed" })
    this.settle(outcome)
  }
}

/** `Driver.startEngine` for `guard`, shared by every driver. */
const startEngine = (driver: Driver): boolean => driver.startEngine()

/** `Driver.step` for `guard`, shared by every driver. */
const stepDriver = (driver: Driver): boolean => driver.step()
