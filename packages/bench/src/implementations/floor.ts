/**
 * The floor: the thinnest Effect program over the same TLSSockets as the
 * native path that keeps the library's design and contract for these
 * workloads, so that every run shows how far effect-tls is from what Effect
 * allows (the `native/floor` column).
 *
 * What it keeps, per connection:
 * - One IO fiber owns the TLSSocket: only it writes, ends, pauses, resumes and
 *   destroys the socket. Node's listeners only record what happened (a
 *   plaintext chunk, the end, a drain, an error) and wake it, by microtask.
 * - Bounded byte buffers both ways: the read buffer pauses the socket past
 *   `READ_LIMIT` (TCP backpressure on the peer); `write` suspends while the
 *   write buffer holds `WRITE_LIMIT` bytes.
 * - Interrupt-safe halves: bytes change hands only inside one `Effect.sync`
 *   whose result goes straight to the caller's continuation, and a fiber that
 *   must wait registers in a callback that checks again (see `read` and
 *   `write`).
 * - Connect, handshake and close bounded by one timer per connection, which
 *   the IO fiber turns into a failure (no fiber races); on scope close, a
 *   graceful close (close_notify, then the FIN, after the pending writes).
 * - The same TLS setup as the other implementations: TLS 1.3 with
 *   `TLS_AES_128_GCM_SHA256`, one `SecureContext` per client (trust anchors,
 *   session resumption with the latest ticket) and one per server (tickets
 *   valid across its connections), no Nagle, half-open sockets.
 *
 * What it leaves out, because these workloads need none of it: events,
 * metrics, spans, session details beyond `resumed`, the sans-IO engine path,
 * STARTTLS, `flush`, `readExactly`/`readUntil`, an idle timeout. It serves one
 * reading fiber and one writing fiber at a time per connection, as the
 * library's guide asks of applications (see `read`).
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as tls from "node:tls"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Credentials from "../Credentials.ts"
import type { Conn, EffectImplementation } from "../Implementation.ts"

/** Plaintext the read buffer holds before the IO fiber pauses the socket. */
const READ_LIMIT = 64 * 1024
/** Plaintext the write buffer holds before `write` suspends. */
const WRITE_LIMIT = 64 * 1024
/** Writes shorter than this, waiting together, leave in one copy (one TLS write for all of them). */
const COALESCE_BELOW = 4 * 1024
const CONNECT_TIMEOUT_MS = 10_000
const HANDSHAKE_TIMEOUT_MS = 10_000
const CLOSE_TIMEOUT_MS = 5_000

/**
 * Why an operation of the floor failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class FloorError extends Data.TaggedError("FloorError")<{
  readonly reason: "Timeout" | "ConnectionClosed" | "WriteAfterEnd" | "Transport"
  readonly detail: string
  readonly cause?: unknown
}> {}

const HANDSHAKING = 0
const ESTABLISHED = 1
const CLOSED = 2
type Phase = typeof HANDSHAKING | typeof ESTABLISHED | typeof CLOSED

/** What the one timer of a connection bounds at the moment. */
const NO_DEADLINE = 0
const CONNECT_DEADLINE = 1
const HANDSHAKE_DEADLINE = 2
const CLOSE_DEADLINE = 3
type Deadline = typeof NO_DEADLINE | typeof CONNECT_DEADLINE | typeof HANDSHAKE_DEADLINE | typeof CLOSE_DEADLINE

/** Thrown by a write's commit that accepted nothing (full or refused); its catch frame decides what follows. */
class NotAccepted {
  readonly chunk: Uint8Array
  constructor(chunk: Uint8Array) {
    this.chunk = chunk
  }
}

// Built only when asked: most connections never fail, and an error's stack costs more than a round trip.
const closedFailure = () => new FloorError({ reason: "ConnectionClosed", detail: "the connection was closed" })
const closedError = Effect.suspend(() => Effect.fail(closedFailure()))
const endOfStream = Effect.succeed(undefined)

/** A read's result: every buffered chunk, or `undefined` at the end. */
type Read = Effect.Effect<ReadonlyArray<Uint8Array> | undefined, FloorError>

/** Where the shared listeners below find their connection (Node calls them with the socket as `this`). */
const OWNER: unique symbol = Symbol("floor/owner")

interface OwnedSocket extends tls.TLSSocket {
  [OWNER]: FloorConnection
}

const ownerOf = (socket: tls.TLSSocket): FloorConnection => (socket as OwnedSocket)[OWNER]

/** The latest session ticket of a client, offered by its next connection. */
interface Tickets {
  latest: Buffer | undefined
}

/**
 * One connection. Field ownership:
 * - Written by Node's listeners only (facts the IO fiber acts on): `secure`,
 *   `nodeError`, `inEnd`, `finished`, `timedOut`; `inbox` and `inBytes` are
 *   appended to by the 'data' listener and emptied by the reader's commit.
 * - Written by application fibers, read by the IO fiber: `out` and `outBytes`
 *   (appended to by write commits, emptied by the IO fiber), `endRequested`,
 *   `closing`.
 * - Written by the IO fiber only, read by everyone: `phase`, `failure`,
 *   `closed`, `paused`, `endSent`, `resumed`.
 * - Waiter slots (`readWaiter`, `writeWaiter`, `lifeWaiter`): set by the
 *   waiting fiber's registration, cleared and called by the IO fiber.
 */
class FloorConnection implements Conn<ReadonlyArray<Uint8Array> | undefined> {
  readonly socket: tls.TLSSocket
  private readonly tickets: Tickets | undefined
  private fiber: Fiber.Fiber<void> | undefined = undefined

  private phase: Phase = HANDSHAKING
  private failure: FloorError | undefined = undefined
  /** The scope closed the connection: every operation fails ConnectionClosed from now on. */
  private closed = false
  resumed: boolean | undefined = undefined

  // Facts from Node's listeners.
  private secure = false
  private nodeError: unknown = undefined
  private inEnd = false
  private finished = false
  private timedOut = false

  // Inbound invariant: Node's 'data' listener appends every plaintext chunk to
  // `inbox`; a read takes all of it in its commit. Once `inBytes` exceeds
  // READ_LIMIT the IO fiber pauses the socket (Node then stops reading the
  // TCP socket once its own buffer is full), and resumes it when a read has
  // emptied the buffer. Node emits the chunks of one TCP read before any
  // microtask runs, so the buffer holds at most READ_LIMIT plus what one TCP
  // read decrypts (64 KiB).
  private inbox: Array<Uint8Array> = []
  private inBytes = 0
  private paused = false

  // Outbound invariant: a write is accepted whole into `out` by its commit
  // while `outBytes` is below WRITE_LIMIT (so `out` holds at most the limit
  // plus one write); the IO fiber moves everything in `out` to the socket
  // while the socket does not ask for a drain, in order. close_notify (and
  // then the FIN) is requested from the socket only once `out` is empty: every
  // accepted write goes out before it. After `endRequested` no write is accepted.
  private out: Array<Uint8Array> = []
  private outBytes = 0
  private endRequested = false
  private endSent = false
  private closing = false

  // One timer bounds, in turn, the TCP connect, the handshake and the close.
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private deadline: Deadline = NO_DEADLINE

  // Waiters: one slot per half (one reading fiber and one writing fiber at a
  // time), one for the handshake and the end. No cancellation: an interrupted
  // fiber leaves its `resume` in the slot, where calling it does nothing, and
  // the next registration replaces it.
  private readWaiter: ((read: Read) => void) | undefined = undefined
  private writeWaiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  private lifeWaiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  // The IO fiber's wake-up. Invariant: a wake-up is never lost. While the IO
  // fiber is suspended (`ioResume` set) a wake-up resumes it in a microtask
  // (coalesced); at any other time it sets `ioPending`, which the IO fiber
  // checks after each step (and steps again) and in the registration of its
  // sleep (and does not sleep).
  private ioResume: ((loop: Effect.Effect<void>) => void) | undefined = undefined
  private ioPending = false
  private ioScheduled = false

  constructor(socket: tls.TLSSocket, role: "client" | "server", tickets: Tickets | undefined) {
    this.socket = socket
    this.tickets = tickets
    ;(socket as OwnedSocket)[OWNER] = this
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("drain", onWake)
    socket.on("finish", onFinish)
    socket.on("close", onClose)
    socket.on("error", onError)
    if (role === "client") {
      socket.on("secureConnect", onSecure)
      if (tickets !== undefined) socket.on("session", onSession)
      this.arm(CONNECT_TIMEOUT_MS, CONNECT_DEADLINE)
    } else {
      // A server TLSSocket outside a tls.Server reports its errors as '_tlsError' only.
      socket.on("_tlsError", onError)
      socket.on("secure", onSecure)
      this.arm(HANDSHAKE_TIMEOUT_MS, HANDSHAKE_DEADLINE)
    }
  }

  // --- Node's side: record and wake ----------------------------------------------------

  readonly wake = (): void => {
    if (this.ioResume === undefined) {
      this.ioPending = true
    } else if (!this.ioScheduled) {
      this.ioScheduled = true
      queueMicrotask(this.resumeIo)
    }
  }

  private readonly resumeIo = (): void => {
    this.ioScheduled = false
    const resume = this.ioResume
    if (resume === undefined) {
      this.ioPending = true
      return
    }
    this.ioResume = undefined
    resume(this.loop)
  }

  onData(chunk: Uint8Array): void {
    this.inbox.push(chunk)
    this.inBytes += chunk.length
    this.wake()
  }

  onEnd(): void {
    this.inEnd = true
    this.wake()
  }

  onFinish(): void {
    this.finished = true
    this.wake()
  }

  onClose(): void {
    // A close before both directions ended, that the IO fiber did not cause, is a reset.
    if (this.phase !== CLOSED && !(this.inEnd && this.finished)) {
      this.nodeError ??= new FloorError({ reason: "Transport", detail: "the connection closed" })
    }
    this.wake()
  }

  onError(error: unknown): void {
    this.nodeError ??= error
    this.wake()
  }

  onSecure(): void {
    this.secure = true
    this.wake()
  }

  onSession(ticket: Buffer): void {
    if (this.tickets !== undefined) this.tickets.latest = ticket
  }

  onTimer(): void {
    this.timedOut = true
    this.wake()
  }

  private arm(ms: number, deadline: Deadline): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.deadline = deadline
    this.timer = setTimeout(onTimer, ms, this)
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.deadline = NO_DEADLINE
  }

  // --- the IO fiber ----------------------------------------------------------------------

  /**
   * The IO fiber: a step per wake-up, and another at once if a wake-up came
   * while it stepped (its own step resumes application fibers inline, and
   * they may write or end), until the connection is over. Two operations per
   * wake-up: the sleep is resumed with the loop itself (no continuation
   * frame), and the loop returns the sleep.
   */
  private readonly loop: Effect.Effect<void> = Effect.suspend(() => {
    let more: boolean
    do {
      this.ioPending = false
      more = this.step()
    } while (more && this.ioPending)
    return more ? this.sleep : Effect.void
  })

  private readonly sleep: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.ioPending) resume(this.loop)
    else this.ioResume = resume
  })

  /** Acts on everything that happened since the last step. False once the connection is over. */
  private step(): boolean {
    if (this.phase === CLOSED) return false
    const socket = this.socket
    if (this.nodeError !== undefined) {
      const error = this.nodeError
      this.fail(
        error instanceof FloorError
          ? error
          : new FloorError({ reason: "Transport", detail: String(error), cause: error })
      )
      return false
    }
    if (this.timedOut) {
      this.timedOut = false
      if (!this.onDeadline()) return false
    }
    if (this.phase === HANDSHAKING) {
      if (this.closing) {
        this.finish()
        return false
      }
      if (!this.secure) return true
      this.phase = ESTABLISHED
      this.resumed = socket.isSessionReused()
      this.disarm()
      this.wakeLife()
    }

    // Inbound: backpressure, then the reader (it runs inline, and may write).
    if (!this.paused) {
      if (this.inBytes > READ_LIMIT) {
        this.paused = true
        socket.pause()
      }
    } else if (this.inBytes < READ_LIMIT) {
      this.paused = false
      socket.resume()
    }
    if (this.readWaiter !== undefined && (this.inbox.length > 0 || this.inEnd)) {
      // Handed the commit itself: the reader's next operation takes the chunks.
      const resume = this.readWaiter
      this.readWaiter = undefined
      resume(this.inbox.length > 0 ? (this.takeAll as Read) : this.read)
    }

    // Outbound: the accepted writes, then the writer, then the end.
    if (this.out.length > 0 && !socket.writableNeedDrain) this.writeOut()
    if (this.writeWaiter !== undefined && this.outBytes < WRITE_LIMIT) {
      const resume = this.writeWaiter
      this.writeWaiter = undefined
      resume(Effect.void)
    }
    if (this.endRequested && !this.endSent) {
      // The end (close_notify and the FIN, after the pending writes) is bounded from its request.
      if (this.deadline === NO_DEADLINE) this.arm(CLOSE_TIMEOUT_MS, CLOSE_DEADLINE)
      if (this.out.length === 0) {
        this.endSent = true
        // close_notify after Node's buffered writes, then the FIN. (No empty write first: the
        // client's Finished was never lost behind the FIN, see the handshake test.)
        socket.end()
      }
    }
    if (this.finished) {
      if (this.deadline === CLOSE_DEADLINE) this.disarm()
      this.wakeLife()
      if (this.closing) {
        this.finish()
        return false
      }
    }
    return true
  }

  /**
   * Everything in `out` to the socket: writes shorter than COALESCE_BELOW that
   * wait together in one copy, longer ones as they are.
   */
  private writeOut(): void {
    const out = this.out
    const socket = this.socket
    this.out = []
    this.outBytes = 0
    const small = (k: number) => k < out.length && (out[k] as Uint8Array).length < COALESCE_BELOW
    for (let i = 0; i < out.length; ) {
      if (!small(i) || !small(i + 1)) {
        socket.write(out[i++] as Uint8Array)
        continue
      }
      // A run of small writes: one copy, one TLS write.
      let end = i
      let bytes = 0
      while (small(end)) bytes += (out[end++] as Uint8Array).length
      const piece = Buffer.allocUnsafe(bytes)
      for (let offset = 0; i < end; i++) {
        const part = out[i] as Uint8Array
        piece.set(part, offset)
        offset += part.length
      }
      socket.write(piece)
    }
  }

  /** The timer fired: fails the connection, or moves on to the next bound. False once over. */
  private onDeadline(): boolean {
    switch (this.deadline) {
      case CONNECT_DEADLINE:
        if (this.socket.connecting) {
          this.fail(new FloorError({ reason: "Timeout", detail: `no TCP connection within ${CONNECT_TIMEOUT_MS} ms` }))
          return false
        }
        // Connected: the handshake gets its own bound from here (so at most both bounds in all).
        this.arm(HANDSHAKE_TIMEOUT_MS, HANDSHAKE_DEADLINE)
        return true
      case HANDSHAKE_DEADLINE:
        this.fail(new FloorError({ reason: "Timeout", detail: `no handshake within ${HANDSHAKE_TIMEOUT_MS} ms` }))
        return false
      case CLOSE_DEADLINE:
        if (this.closing) {
          this.finish()
        } else {
          this.fail(
            new FloorError({ reason: "Timeout", detail: `close_notify not delivered within ${CLOSE_TIMEOUT_MS} ms` })
          )
        }
        return false
      default:
        return true
    }
  }

  private wakeLife(): void {
    const resume = this.lifeWaiter
    if (resume === undefined) return
    this.lifeWaiter = undefined
    resume(Effect.void)
  }

  /** Fatal: the socket is destroyed and both halves fail with `error` (reads once the buffer is empty). */
  private fail(error: FloorError): void {
    this.failure = error
    this.finish()
  }

  /** The end of the connection: destroys the socket, clears the timer, wakes every waiter. */
  private finish(): void {
    this.phase = CLOSED
    this.closed = this.failure === undefined
    this.disarm()
    this.socket.destroy()
    const { readWaiter, writeWaiter, lifeWaiter } = this
    this.readWaiter = this.writeWaiter = this.lifeWaiter = undefined
    readWaiter?.(this.read)
    writeWaiter?.(Effect.void)
    lifeWaiter?.(Effect.void)
  }

  // --- the halves --------------------------------------------------------------------------

  /**
   * All buffered chunks, or `undefined` at the end. The step only looks; the
   * commit takes the whole buffer in one `Effect.sync` whose result is the
   * read's result, so an interrupted read took nothing. A reader that must
   * wait registers in its callback, which looks again first. With two
   * concurrent readers (unsupported, as in the library), one that lost the
   * race between its step and its commit returns no chunks.
   */
  get read(): Read {
    return this.readEffect ?? this.makeRead()
  }

  // Made on the first read (many connections are never read from): the read,
  // its commit, and its wait, which the IO fiber resumes with the commit (or
  // with the read, to look again).
  private readEffect: Read | undefined = undefined
  private takeAll: Effect.Effect<ReadonlyArray<Uint8Array>> | undefined = undefined

  private makeRead(): Read {
    const takeAll = Effect.sync((): ReadonlyArray<Uint8Array> => {
      const chunks = this.inbox
      this.inbox = []
      this.inBytes = 0
      // Only the IO fiber resumes the socket; it is woken (in a microtask: a commit runs no other fiber).
      if (this.paused) this.wake()
      return chunks
    })
    const wait = Effect.callback<ReadonlyArray<Uint8Array> | undefined, FloorError>((resume) => {
      if (this.inbox.length > 0 || this.inEnd || this.phase === CLOSED) resume(read)
      else this.readWaiter = resume
    })
    const read: Read = Effect.suspend(() => {
      if (this.closed) return closedError
      if (this.inbox.length > 0) return takeAll
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.inEnd) return endOfStream
      return wait
    })
    this.takeAll = takeAll
    this.readEffect = read
    return read
  }

  /**
   * Accepts `chunk` whole, or nothing: the commit looks and takes in one
   * `Effect.sync` (the write's last operation, so an interrupted write
   * accepted nothing), and when it cannot accept it throws the chunk back to
   * the write's catch frame, which fails or waits for room and tries again.
   * No other fiber can act between the look and the take.
   */
  write(chunk: Uint8Array): Effect.Effect<void, FloorError> {
    this.notAccepted ??= (cause) => this.retryWrite(cause)
    return Effect.catchCause(
      Effect.sync(() => this.accept(chunk)),
      this.notAccepted
    )
  }

  private accept(chunk: Uint8Array): void {
    if (this.closed || this.failure !== undefined || this.endRequested || this.outBytes >= WRITE_LIMIT) {
      throw new NotAccepted(chunk)
    }
    if (chunk.length === 0) return
    this.out.push(chunk)
    this.outBytes += chunk.length
    // The IO fiber has `out` to move once it runs; more writes before then need no wake-up.
    if (this.out.length === 1) this.wake()
  }

  /** The handler of the write's catch frame (one per connection, made by its first write). */
  private notAccepted: ((cause: Cause.Cause<unknown>) => Effect.Effect<void, FloorError>) | undefined = undefined

  private retryWrite(cause: Cause.Cause<unknown>): Effect.Effect<void, FloorError> {
    const reason = cause.reasons[0]
    if (cause.reasons.length !== 1 || reason === undefined || !Cause.isDieReason(reason)) {
      return Effect.failCause(cause as Cause.Cause<never>)
    }
    const thrown = reason.defect
    if (!(thrown instanceof NotAccepted)) return Effect.failCause(cause as Cause.Cause<never>)
    const refused = this.refusal()
    if (refused !== undefined) return Effect.fail(refused)
    return Effect.flatMap(this.writeRoom, () => this.write(thrown.chunk))
  }

  private refusal(): FloorError | undefined {
    if (this.closed) return closedFailure()
    if (this.failure !== undefined) return this.failure
    if (this.endRequested) return new FloorError({ reason: "WriteAfterEnd", detail: "the write side was ended" })
    return undefined
  }

  private writeRoomEffect: Effect.Effect<void> | undefined = undefined

  private get writeRoom(): Effect.Effect<void> {
    this.writeRoomEffect ??= Effect.callback<void>((resume) => {
      const room = this.outBytes < WRITE_LIMIT || this.closed || this.failure !== undefined || this.endRequested
      if (room) resume(Effect.void)
      else this.writeWaiter = resume
    })
    return this.writeRoomEffect
  }

  /** Ends the write side: close_notify after the pending writes, then the FIN; completes once both were handed on. */
  get end(): Effect.Effect<void, FloorError> {
    return Effect.suspend(() => {
      if (this.closed) return closedError
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (!this.endRequested) {
        this.endRequested = true
        this.wake()
      }
      return this.awaitLife(
        () => this.finished || this.phase === CLOSED,
        () => (this.finished ? Effect.void : this.failure !== undefined ? Effect.fail(this.failure) : closedError)
      )
    })
  }

  /** Waits (re-checking at registration) until `ready`, then runs `then`. */
  private awaitLife<A>(ready: () => boolean, then: () => Effect.Effect<A, FloorError>): Effect.Effect<A, FloorError> {
    const go: Effect.Effect<A, FloorError> = Effect.suspend(() =>
      ready()
        ? then()
        : Effect.flatMap(
            Effect.callback<void>((resume) => {
              if (ready()) resume(Effect.void)
              else this.lifeWaiter = resume
            }),
            () => go
          )
    )
    return go
  }

  /** A read's result is its chunks already. */
  chunks(read: ReadonlyArray<Uint8Array> | undefined): ReadonlyArray<Uint8Array> | undefined {
    return read
  }

  /** The handshake's end: this connection, or why it failed. */
  get handshake(): Effect.Effect<FloorConnection, FloorError> {
    return this.awaitLife(
      () => this.phase !== HANDSHAKING,
      () => (this.phase === ESTABLISHED ? Effect.succeed(this) : Effect.fail(this.failure ?? closedFailure()))
    )
  }

  /** Starts the IO fiber (detached: `close` always waits for its end). */
  get start(): Effect.Effect<FloorConnection> {
    return Effect.map(Effect.forkDetach(this.loop, { startImmediately: true }), (fiber) => {
      this.fiber = fiber
      return this
    })
  }

  /**
   * The scope's finalizer: gracefully (close_notify and the FIN after the
   * pending writes, within CLOSE_TIMEOUT_MS), at once during the handshake,
   * then waits for the IO fiber to end, which destroys the socket.
   */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.phase !== CLOSED) {
        this.closing = true
        if (this.phase === ESTABLISHED) this.endRequested = true
        this.wake()
      }
      return this.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.await(this.fiber))
    })
  }
}

// The listeners every connection's socket shares (`this` is the socket).

function onData(this: tls.TLSSocket, chunk: Buffer): void {
  ownerOf(this).onData(chunk)
}
function onEnd(this: tls.TLSSocket): void {
  ownerOf(this).onEnd()
}
function onWake(this: tls.TLSSocket): void {
  ownerOf(this).wake()
}
function onFinish(this: tls.TLSSocket): void {
  ownerOf(this).onFinish()
}
function onClose(this: tls.TLSSocket): void {
  ownerOf(this).onClose()
}
function onError(this: tls.TLSSocket, error: Error): void {
  ownerOf(this).onError(error)
}
function onSecure(this: tls.TLSSocket): void {
  ownerOf(this).onSecure()
}
function onSession(this: tls.TLSSocket, ticket: Buffer): void {
  ownerOf(this).onSession(ticket)
}
function onTimer(connection: FloorConnection): void {
  connection.onTimer()
}

const common = { minVersion: "TLSv1.3", ciphers: Credentials.cipherSuite } as const

/**
 * A client: one SecureContext for all its connections and, when resuming, the
 * latest ticket. `tls.connect` dials TCP itself (with the connect bound as the timer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (credentials: Credentials.Credentials, options: { readonly resume: boolean }) =>
  Effect.sync(() => {
    const secureContext = tls.createSecureContext({ ...common, ca: credentials.ca })
    const tickets: Tickets | undefined = options.resume ? { latest: undefined } : undefined
    return {
      connect: (port: number) =>
        Effect.flatMap(
          Effect.acquireRelease(
            Effect.suspend(() => {
              // Node passes `allowHalfOpen` and `noDelay` on to the TLSSocket (its typings omit them): the peer's end
              // does not end our write side.
              const connectOptions: tls.ConnectionOptions & {
                readonly allowHalfOpen: boolean
                readonly noDelay: boolean
              } = {
                host: Credentials.host,
                port,
                servername: credentials.servername,
                secureContext,
                allowHalfOpen: true,
                noDelay: true,
                ...(tickets?.latest === undefined ? {} : { session: tickets.latest })
              }
              const socket = tls.connect(connectOptions)
              return new FloorConnection(socket, "client", tickets).start
            }),
            (connection) => connection.close
          ),
          (connection) => connection.handshake
        )
    }
  })

/**
 * A server: one SecureContext (its ticket keys resume sessions across
 * connections), a TLSSocket per accepted TCP socket, and a fiber per
 * connection running the handler; its scope's close stops listening and
 * closes every connection (gracefully, each within its close bound).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E>(
  credentials: Credentials.Credentials,
  handler: (conn: Conn) => Effect.Effect<void, E>
): Effect.Effect<number, FloorError, Scope.Scope> =>
  Effect.gen(function* () {
    const secureContext = tls.createSecureContext({
      ...common,
      key: credentials.key,
      cert: credentials.chain,
      sessionIdContext: "effect-tls-bench-floor"
    })
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    const fibers = new Set<Fiber.Fiber<void>>()
    const serveSocket = (socket: net.Socket): Effect.Effect<void> =>
      Effect.acquireUseRelease(
        Effect.suspend(
          () =>
            new FloorConnection(new tls.TLSSocket(socket, { isServer: true, secureContext }), "server", undefined).start
        ),
        (connection) => Effect.flatMap(connection.handshake, handler),
        (connection) => connection.close
      ).pipe(Effect.catchCause(() => Effect.void))
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
      // The TLSSocket takes the socket over synchronously, in the fiber's first steps.
      const fiber = runFork(serveSocket(socket))
      if (fiber.pollUnsafe() !== undefined) return
      fibers.add(fiber)
      fiber.addObserver(() => fibers.delete(fiber))
    })
    yield* Effect.callback<void, FloorError>((resume) => {
      // Kept after the listen: a later error of the listener (a failed accept) must not throw.
      server.on("error", (cause) =>
        resume(Effect.fail(new FloorError({ reason: "Transport", detail: "listen failed", cause })))
      )
      server.listen(0, Credentials.host, () => resume(Effect.void))
    })
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        server.close()
        return Fiber.interruptAll(Array.from(fibers))
      })
    )
    return (server.address() as net.AddressInfo).port
  })

/**
 * @since 0.1.0
 * @category implementations
 */
export const implementation: EffectImplementation = {
  _tag: "Effect",
  id: "floor",
  label: "Effect floor",
  resumption: true,
  serve,
  client
}
