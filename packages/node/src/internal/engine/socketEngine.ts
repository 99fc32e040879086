/**
 * The core `Engine` over a node:tls `TLSSocket`: the plaintext inbox and its
 * backpressure, plaintext writes and the end, events, failure and the
 * lifecycle. Where the ciphertext goes is the engine's `Mode`.
 *
 * Who runs what (JavaScript runs one callback at a time; these say which
 * code, not which thread):
 *
 * - Node's callbacks (the shared listeners of `listeners.ts`, the hooks of
 *   `nodeInternals.ts`, write callbacks, the idle timer) call the
 *   `SocketOwner` methods, which only record what happened and wake the IO
 *   fiber;
 * - the connection's IO fiber calls the `Engine` methods (contract point 1),
 *   and once it stopped, the connection's scope calls `destroy` and drains
 *   the last events;
 * - application fibers never call the engine: they read the session it made
 *   (`session.ts`).
 */
import type { Duplex } from "node:stream"
import * as tls from "node:tls"
import { type Engine, type InboundState, recordPlaintextBytes } from "@effect-tls/core/Engine"
import { ConnectionReset, isTlsError, type TlsError, TlsTransportError } from "@effect-tls/core/TlsError"
import { TlsEvent } from "@effect-tls/core/TlsEvent"
import type { TlsSession } from "@effect-tls/core/TlsSession"
import { clientCertificateVerdict, fromNodeError, transportError } from "../errors.ts"
import { Fifo } from "./fifo.ts"
import * as IdleTimer from "./idleTimer.ts"
import { keyUpdateOf } from "./keyUpdates.ts"
import * as Listeners from "./listeners.ts"
import type { Mode } from "./mode.ts"
import * as NodeInternals from "./nodeInternals.ts"
import type { EngineExtras, EngineTlsOptions } from "./options.ts"
import type { SocketOwner } from "./owner.ts"
import { InboundPhase, isLive, type OutboundPhase, type Phase } from "./phases.ts"
import * as Session from "./session.ts"
import * as SessionBookkeeping from "./sessionBookkeeping.ts"
import * as Verification from "./verification.ts"

/**
 * Undelivered plaintext, one record, from which the engine takes no more
 * ciphertext, and above which it pauses the TLSSocket (more than one record:
 * the IO fiber has not taken the last one).
 */
const INBOX_LIMIT = recordPlaintextBytes

const noop = (): void => {}

/** A server's TLSSocket always sits on an accepted socket or a duplex: only a client dials. */
const serverSocket = (under: Duplex | undefined): Duplex => {
  if (under === undefined) throw new Error("a server engine was made without a socket")
  return under
}

const NO_EVENTS: ReadonlyArray<TlsEvent> = []

/** Where the shared `checkServerIdentity` finds its engine: in the client's connect options. */
const ENGINE: unique symbol = Symbol("effect-tls/SocketEngine")

interface ConnectOptionsOfEngine extends tls.ConnectionOptions {
  readonly [ENGINE]: SocketEngine
}

/**
 * Every client's `checkServerIdentity`: Node calls it as a method of the
 * connection's options (`options.checkServerIdentity(host, cert)` in
 * wrap.js), which carry their engine, so a connection costs no closure for
 * it. If Node ever calls it otherwise, the engine is not found and the
 * handshake fails: a hostname check is never skipped.
 */
function checkServerIdentityOfEngine(
  this: Partial<ConnectOptionsOfEngine> | undefined,
  hostname: string,
  certificate: tls.PeerCertificate
): Error | undefined {
  const engine = this?.[ENGINE]
  if (engine === undefined) return new Error("effect-tls: the hostname check was called without its connection")
  return engine.checkServerIdentity(hostname, certificate)
}

/** One per connection; the module note says who calls what. */
export class SocketEngine implements Engine, SocketOwner, IdleTimer.Watched, SessionBookkeeping.SessionHolder {
  readonly role: "client" | "server"
  readonly native: boolean
  /**
   * The history replays no tickets: a client with a session cache hands each
   * to it (`extras.onSession`), where resumption takes it from; one without
   * resumes nothing, and a ticket is then news to the followers present only.
   */
  readonly replayTickets = false
  private readonly mode: Mode
  /** Read by the engine and by `SessionBookkeeping`, whose holder it is. */
  readonly tlsOptions: EngineTlsOptions
  readonly extras: EngineExtras
  /** See `SessionBookkeeping.SessionHolder`: written and read by its functions (Node's callbacks). */
  verifiedChain: ReadonlyArray<Buffer> | undefined = undefined

  /** Written once by `setWaker` (the IO fiber, before `start`); called by Node's callbacks. */
  private waker: () => void = noop
  /** Written once by `start` (the IO fiber); read by the `Engine` methods and Node's callbacks. */
  private socket: tls.TLSSocket | undefined = undefined
  /**
   * See {@link Phase}. Written by `start` (the IO fiber), `onSecure` and
   * `onError` (Node's callbacks) and `destroy` (the connection releasing the
   * engine); read everywhere.
   */
  private phase: Phase = "Created"
  /** The first fatal error: written with `Failed` by `onError`; read by `failure` (the IO fiber, then the scope). */
  private error: TlsError | undefined = undefined
  /**
   * Written by `onSecure` on entering `Established` (again on a repeated
   * handshake); read by `session` and `handshakeDone` (the IO fiber). It stays
   * after a failure: a handshake that completed stays reported as done.
   */
  private sessionInfo: TlsSession | undefined = undefined
  /** See {@link InboundPhase}. Written by `onTlsEof` and `onEnd` (Node); read by `inbound` (the IO fiber) and `onClose`. */
  private inboundPhase: InboundPhase = InboundPhase.Open
  /** See {@link OutboundPhase}. Written by `sendEnd` (the IO fiber) and `onFinish` (Node); read by the outbound methods. */
  private outboundPhase: OutboundPhase = "Open"

  // Inbound invariant: plaintext the TLSSocket emitted waits in `inbox` until
  // the IO fiber takes it, and the TLSSocket is paused exactly while the inbox
  // holds more than INBOX_LIMIT bytes, so Node stops reading (TCP
  // backpressure, or the duplex stops flowing) and at most one stream buffer
  // more arrives. The limit is above one record because Node hands each
  // record over in a callback of its own: pausing at one record would pause
  // and resume the socket for every record.
  /**
   * Pushed to by `onData` (Node); taken from by `takePlaintext` (the IO
   * fiber), at most a record at a time. Made by the first 'data': a
   * connection that never receives application data has none.
   */
  private inbox: Fifo<Uint8Array> | undefined = undefined
  /** The bytes in `inbox`: written by `onData` and `takePlaintext`. */
  private inboxBytes = 0
  /** Whether `onData` was ever called: the peer sent application data. */
  private plaintextReceived = false

  /**
   * How the IO fiber learns that the TLSSocket's pending output has left (a
   * flush or close_notify waits for it). A native engine on Node asks when it
   * needs to know, with one empty write behind the pending ones
   * (`NodeInternals.afterPendingOutput`), so that its writes carry no
   * callback: Node runs a tick for every synchronous write that has one, two
   * per round trip of a request and its response. Otherwise (duplex mode,
   * other runtimes) every write's callback looks.
   */
  private readonly callbackPerWrite: boolean
  /**
   * Set by `outboundPending` (the IO fiber) when it answered true: a flush or
   * close_notify waits for the TLSSocket's writes. Cleared, and the IO fiber
   * woken, by the write callback that finds them done (`onWritten`) or by the
   * empty write's (`onOutputLeft`); while it is set no other empty write is made.
   */
  private drainWanted = false
  /**
   * Pushed to by Node's callbacks and `onError`; taken by `takeEvents` (the IO
   * fiber, then the scope after a failure). Made on the first event: most
   * connections have few, and most steps none.
   */
  private events: Array<TlsEvent> | undefined = undefined

  /** See `IdleTimer.Watched`: set by `onData` (Node) and `sendPlaintext` (the IO fiber), cleared by the idle wheel. */
  idleMoved = false
  /** See `IdleTimer.Watched`: the idle wheel's only. */
  idleLooks = 0

  constructor(role: "client" | "server", mode: Mode, tlsOptions: EngineTlsOptions, extras: EngineExtras) {
    this.role = role
    this.native = mode.native
    this.callbackPerWrite = !(mode.native && NodeInternals.emptyWriteTellsOutput)
    this.mode = mode
    this.tlsOptions = tlsOptions
    this.extras = extras
  }

  setWaker(wake: () => void): void {
    this.waker = wake
    this.mode.setWaker(wake)
  }

  start(): void {
    if (this.phase !== "Created") return
    const under = this.mode.under()
    const socket =
      this.role === "client"
        ? tls.connect(this.connectOptions(under))
        : new tls.TLSSocket(serverSocket(under), { ...this.tlsOptions, isServer: true })
    this.socket = socket
    this.phase = "Handshaking"
    Listeners.listen(socket, this, {
      role: this.role,
      dials: under === undefined,
      ocsp: this.role === "client" && this.tlsOptions.requestOCSP === true
    })
    this.mode.adopt(socket)
    if (this.role === "server") socket.disableRenegotiation()
  }

  /** The client's `tls.connect` options: ours, where to connect, and the hostname check that finds this engine. */
  private connectOptions(under: Duplex | undefined): ConnectOptionsOfEngine {
    const options: ConnectOptionsOfEngine = {
      ...this.tlsOptions,
      ...(under === undefined ? this.mode.dialOptions() : { socket: under }),
      [ENGINE]: this,
      checkServerIdentity: checkServerIdentityOfEngine
    }
    return options
  }

  /**
   * The client's hostname check. Node builds the verified chain for it (full
   * handshakes): kept for the session, instead of building it a second time.
   */
  checkServerIdentity(hostname: string, certificate: tls.PeerCertificate): Error | undefined {
    SessionBookkeeping.noteVerifiedChain(this, certificate)
    return (this.tlsOptions.checkServerIdentity ?? tls.checkServerIdentity)(hostname, certificate)
  }

  handshakeDone(): boolean {
    return this.sessionInfo !== undefined
  }

  connectingTo(): string | undefined {
    return this.mode.connectingTo()
  }

  failure(): TlsError | undefined {
    return this.error
  }

  session(): TlsSession {
    if (this.sessionInfo === undefined) throw new Error("session() before the handshake completed")
    return this.sessionInfo
  }

  // --- inbound (the IO fiber) ------------------------------------------------

  wantsCiphertext(): boolean {
    return this.inboxBytes < INBOX_LIMIT && this.mode.wantsCiphertext()
  }

  receiveCiphertext(chunk: Uint8Array): void {
    if (this.phase === "Destroyed") return
    this.mode.receiveCiphertext(chunk)
  }

  receiveEnd(): void {
    this.mode.receiveEnd()
  }

  takePlaintext(): Uint8Array | undefined {
    const inbox = this.inbox
    const head = inbox?.peek()
    if (inbox === undefined || head === undefined) return undefined
    // Node emits at most a record per 'data'; Bun emits what it read at once
    // (hundreds of KiB). Handed on a record at a time, a chunk never takes the
    // read buffer more than one record over its limit (contract point 5).
    let chunk: Uint8Array
    if (head.length > recordPlaintextBytes) {
      chunk = head.subarray(0, recordPlaintextBytes)
      inbox.replaceHead(head.subarray(recordPlaintextBytes))
    } else {
      chunk = head
      inbox.shift()
    }
    const wasPaused = this.inboxBytes > INBOX_LIMIT
    this.inboxBytes -= chunk.length
    if (wasPaused && this.inboxBytes <= INBOX_LIMIT) this.socket?.resume()
    return chunk
  }

  inbound(): InboundState {
    const phase = this.inboundPhase
    // The end is reported once every plaintext chunk was taken.
    return phase._tag === "Ended" && (this.inbox === undefined || this.inbox.isEmpty) ? phase.end : "Open"
  }

  // --- outbound (the IO fiber) -----------------------------------------------

  plaintextWritable(): boolean {
    return this.socket !== undefined && !this.socket.writableNeedDrain && this.outboundPhase === "Open"
  }

  /** Node's TLSSocket cuts a long write into records itself (see `Engine.cutsRecords`). */
  get cutsRecords(): boolean {
    return true
  }

  /** Joined small writes fill their chunk completely: no zero fill needed (see `Engine.allocatePlaintext`). */
  allocatePlaintext(bytes: number): Uint8Array {
    return Buffer.allocUnsafe(bytes)
  }

  sendPlaintext(chunk: Uint8Array): void {
    this.idleMoved = true
    const socket = this.socket
    if (socket === undefined) return
    if (!this.callbackPerWrite) {
      socket.write(chunk)
      return
    }
    this.afterWrite ??= () => this.onWritten()
    socket.write(chunk, this.afterWrite)
  }

  /**
   * The write callback (`onWritten`, or `onOutputLeft` for the empty write):
   * Node calls it without a `this`, hence one closure per engine, made by the
   * first write that needs it (an idle connection may never write). Written
   * and read by the IO fiber.
   */
  private afterWrite: (() => void) | undefined = undefined

  /**
   * A write completed. The IO fiber is woken only if it asked (an
   * `outboundPending()` that answered true: a flush or close_notify waits);
   * waking it after every write would cost a step per write.
   */
  private onWritten(): void {
    if (this.drainWanted && (this.socket === undefined || !NodeInternals.hasPendingOutput(this.socket))) {
      this.drainWanted = false
      this.waker()
    }
  }

  /**
   * The empty write completed: what was pending when it was made has left.
   * The IO fiber looks again, and makes another if writes made since are
   * still pending.
   */
  private onOutputLeft(): void {
    this.drainWanted = false
    this.waker()
  }

  sendEnd(): void {
    if (this.outboundPhase !== "Open") return
    this.outboundPhase = "EndRequested"
    // close_notify after the pending writes; native: then the TCP FIN.
    if (this.socket !== undefined) NodeInternals.endAfterPendingOutput(this.socket)
  }

  takeCiphertext(): Uint8Array | undefined {
    return this.mode.takeCiphertext()
  }

  outboundPending(): boolean {
    const socket = this.socket
    if (socket === undefined) return false
    if (NodeInternals.hasPendingOutput(socket)) {
      if (this.callbackPerWrite) {
        this.drainWanted = true
      } else if (!this.drainWanted && this.outboundPhase === "Open") {
        // Once the end is requested nothing more may be written: 'finish'
        // wakes the IO fiber when the output, close_notify last, has left.
        this.drainWanted = true
        this.afterWrite ??= () => this.onOutputLeft()
        NodeInternals.afterPendingOutput(socket, this.afterWrite)
      }
      return true
    }
    return this.mode.ciphertextPending(this.outboundPhase !== "Open")
  }

  outboundEnded(): boolean {
    return this.outboundPhase === "Finished"
  }

  takeEvents(): ReadonlyArray<TlsEvent> {
    const events = this.events
    if (events === undefined) return NO_EVENTS
    this.events = undefined
    return events
  }

  /** Called by the connection when it releases the engine: after the end, a failure, or on the scope's close. */
  destroy(): void {
    if (this.phase === "Destroyed") return
    this.phase = "Destroyed"
    IdleTimer.stop(this, this.extras.idleTimeout)
    this.socket?.destroy()
    this.mode.destroy()
  }

  // --- Node's callbacks (SocketOwner) ----------------------------------------

  wake(): void {
    this.waker()
  }

  onConnect(): void {
    this.mode.onConnect()
    this.waker()
  }

  onTlsShutdown(): void {
    this.mode.onShutdown()
  }

  onTlsEof(): void {
    if (this.inboundPhase._tag === "Open") this.inboundPhase = InboundPhase.Ending[this.mode.inboundEnd()]
  }

  onData(chunk: Buffer): void {
    this.plaintextReceived = true
    this.idleMoved = true
    const wasPaused = this.inboxBytes > INBOX_LIMIT
    this.inbox ??= new Fifo()
    this.inbox.push(chunk)
    this.inboxBytes += chunk.length
    if (!wasPaused && this.inboxBytes > INBOX_LIMIT) this.socket?.pause()
    this.waker()
  }

  onEnd(): void {
    if (this.sessionInfo === undefined) {
      this.onError(
        new TlsTransportError({
          reason: new ConnectionReset({ detail: "the peer closed the connection in the handshake" })
        })
      )
      return
    }
    // After 'end' every plaintext chunk is in the inbox.
    const phase = this.inboundPhase
    this.inboundPhase = InboundPhase.Ended[phase._tag === "Ending" ? phase.end : this.mode.inboundEnd()]
    this.waker()
  }

  onFinish(): void {
    this.outboundPhase = "Finished"
    this.mode.onFinish()
    this.waker()
  }

  onClose(): void {
    // A close is a clean end only after the inbound end of an established connection.
    if (isLive(this.phase) && !(this.phase === "Established" && this.inboundPhase._tag === "Ended")) {
      this.onError(
        new TlsTransportError({
          reason: new ConnectionReset({
            detail: this.phase === "Established" ? "the connection closed" : "the connection closed in the handshake"
          })
        })
      )
    }
    this.waker()
  }

  onOcspResponse(response: Buffer): void {
    this.event(TlsEvent.OcspResponse({ response: new Uint8Array(response) }))
    this.waker()
  }

  onTicket(socket: tls.TLSSocket, session: Buffer): void {
    this.event(TlsEvent.SessionTicket({ ticket: SessionBookkeeping.ticket(this, socket, session) }))
    this.waker()
  }

  onKeylog(socket: tls.TLSSocket, line: Buffer): void {
    const keyUpdate = keyUpdateOf(line, this.role)
    const onKeylog = this.extras.onKeylog
    const events = this.extras.keylog === true
    if (onKeylog !== undefined) onKeylog(line)
    if (events) this.event(TlsEvent.Keylog({ line: line.toString("latin1").trimEnd() }))
    // The secret is wiped at once unless a key log keeps the line: ours
    // (the file is appended asynchronously, from this buffer) or Node's own
    // (--tls-keylog, another listener).
    if (onKeylog === undefined && socket.listenerCount("keylog") === 1) line.fill(0)
    if (keyUpdate !== undefined) this.event(keyUpdate)
    if (events || keyUpdate !== undefined) this.waker()
  }

  onSecure(socket: tls.TLSSocket): void {
    if (!isLive(this.phase)) return
    const peerVerified = Verification.checkPeer(socket, this.role, this.tlsOptions, this.extras)
    if (typeof peerVerified !== "boolean") {
      this.onError(peerVerified)
      return
    }
    // The connection publishes HandshakeDone itself when it sees handshakeDone().
    this.sessionInfo = Session.fromSocket(socket, this.role, {
      servername: this.role === "client" ? this.extras.servername : undefined,
      peerVerified,
      peerChain: SessionBookkeeping.peerChain(this, socket)
    })
    this.phase = "Established"
    IdleTimer.start(this, this.extras.idleTimeout)
    this.waker()
  }

  /** The idle wheel found no plaintext traffic for `timeout` ms (see `IdleTimer`). */
  onIdle(timeout: number): void {
    this.onError(IdleTimer.idleError(timeout))
  }

  onError(error: unknown): void {
    if (!isLive(this.phase)) return
    const connectingTo = this.mode.connectingTo()
    const classified = isTlsError(error)
      ? error
      : connectingTo !== undefined
        ? transportError(error, `connect to ${connectingTo}`)
        : fromNodeError(error, this.phase === "Established", this.mode.firstBytes())
    const mapped = this.awaitsCertificateVerdict() ? clientCertificateVerdict(classified) : classified
    this.error = mapped
    this.phase = "Failed"
    IdleTimer.stop(this, this.extras.idleTimeout)
    const reason = mapped.reason
    if ("alert" in reason && reason.alert !== undefined && reason.code !== undefined && /_ALERT_/.test(reason.code)) {
      this.event(TlsEvent.AlertReceived({ level: "fatal", description: reason.alert }))
    }
    // Fatal means closed: Node leaves the TCP connection open after an error
    // past the handshake, so the socket is destroyed here.
    this.socket?.destroy()
    this.mode.onFailure()
    this.waker()
  }

  /**
   * A TLS 1.3 client whose handshake completed and that has received no
   * application data yet: a fatal alert now may be the server refusing its
   * certificate (see `clientCertificateVerdict`).
   */
  private awaitsCertificateVerdict(): boolean {
    return (
      this.role === "client" &&
      this.phase === "Established" &&
      !this.plaintextReceived &&
      this.sessionInfo?.protocol === "TLSv1.3"
    )
  }

  private event(event: TlsEvent): void {
    if (this.events === undefined) this.events = [event]
    else this.events.push(event)
  }
}
