/**
 * The core `Engine` over a node:tls `TLSSocket`, in two modes that share the
 * plaintext, event, error and session code:
 *
 * - **native**: the TLSSocket sits on a TCP socket and Node's C++ layer does the
 *   socket IO. The IO fiber never sees ciphertext; pair it with `Transport.native`.
 * - **duplex**: the TLSSocket sits on an in-memory `stream.Duplex` whose other
 *   side is this engine, so the IO fiber moves every ciphertext byte between it
 *   and any transport (STARTTLS, TLS in TLS, an Effect `Socket`).
 *
 * Every Node callback here only buffers and calls the waker; the IO fiber does
 * the rest through the `Engine` methods.
 */
import { createHash } from "node:crypto"
import type * as net from "node:net"
import { Duplex } from "node:stream"
import * as tls from "node:tls"
import type { Engine, InboundState } from "@effect-tls/core/Engine"
import { isTlsError, type TlsError, TlsHandshakeError, TlsTransportError } from "@effect-tls/core/TlsError"
import { TlsEvent } from "@effect-tls/core/TlsEvent"
import type { TlsSession } from "@effect-tls/core/TlsSession"
import { fromNodeError } from "./errors.ts"
import * as Session from "./session.ts"
import { ignoreError } from "./transports/net.ts"

/**
 * What the engine adds to Node's TLS options.
 *
 * @since 0.1.0
 * @category models
 */
export interface EngineExtras {
  /** Emit `Keylog` events (attaching a keylog listener makes OpenSSL produce the lines). */
  readonly keylog?: boolean | undefined
  /** Calls for every keylog line (for a keylog file), in addition to the events. */
  readonly onKeylog?: ((line: Buffer) => void) | undefined
  /** Client: accept the server only if its leaf's SPKI SHA-256 (base64) is one of these. */
  readonly pinnedSpkiSha256?: ReadonlyArray<string> | undefined
  /**
   * Client: called with each session ticket (for a session cache), and the
   * server's chain as verified in the handshake that made the session.
   */
  readonly onSession?: ((session: Buffer, peerChain: ReadonlyArray<Buffer>) => void) | undefined
  /**
   * Client: the server's chain as verified when the offered session was made;
   * a resumed handshake does not verify it again, and reports this one.
   */
  readonly resumedPeerChain?: ReadonlyArray<Buffer> | undefined
  /**
   * Client: given the server's chain as verified, returns an equal chain the
   * client already holds (connections to one server then share one copy), or
   * this one.
   */
  readonly sharePeerChain?: ((chain: ReadonlyArray<Buffer>) => ReadonlyArray<Buffer>) | undefined
  /** The server name the client asked for, reported in the session (client side). */
  readonly servername?: string | undefined
  /** Milliseconds without plaintext traffic after which the connection fails with a `Timeout`. */
  readonly idleTimeout?: number | undefined
}

/**
 * Node TLS options accepted by the engines: `tls.connect` options for a
 * client, `TLSSocket` server options for a server. `socket`, `isServer` and
 * `allowHalfOpen` are set by the engine.
 *
 * @since 0.1.0
 * @category models
 */
export type EngineTlsOptions = Omit<tls.ConnectionOptions, "socket" | "port" | "path"> &
  Omit<tls.TLSSocketOptions, "isServer">

/**
 * An engine over a TLSSocket on an in-memory duplex: the IO fiber feeds it
 * ciphertext from any transport and takes the ciphertext it produces. It tells
 * close_notify from a truncated transport exactly.
 *
 * The TLSSocket is created by `start()`, so options errors surface as a
 * failure of the connection, not as a throw here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDuplexEngine = (
  role: "client" | "server",
  tlsOptions: EngineTlsOptions,
  extras: EngineExtras = {}
): Engine => new SocketEngine(role, undefined, tlsOptions, extras)

/**
 * An engine over a TLSSocket on a connected TCP socket: Node does the socket IO
 * in native code. Pair it with `Transport.native`. The engine owns `socket`
 * from now on and destroys it. A FIN and a close_notify look the same here, so
 * the inbound end is reported as `Ended`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNativeEngine = (
  role: "client" | "server",
  socket: net.Socket,
  tlsOptions: EngineTlsOptions,
  extras: EngineExtras = {}
): Engine => new SocketEngine(role, socket, tlsOptions, extras)

// -----------------------------------------------------------------------------
// internal
// -----------------------------------------------------------------------------

/** Undelivered plaintext above which the engine stops taking input: about one record. */
const INBOX_LIMIT = 16 * 1024
/** Ciphertext waiting inside the duplex for the TLSSocket above which `wantsCiphertext` is false. */
const CIPHERTEXT_IN_LIMIT = 16 * 1024

const noop = (): void => {}

const EMPTY_WRITE = Buffer.alloc(0)

/** What Node keeps on a server TLSSocket that the public typings do not show. */
interface TlsWrapHandle {
  readonly verifyError: () => (Error & { readonly code?: string }) | null
}

interface HeldWrite {
  remaining: number
  readonly callback: (error?: Error | null) => void
}

type WriteCallback = (error: Error | null | undefined) => void

/**
 * Where the TLSSocket's ciphertext stands against its close_notify (duplex
 * mode): `Open` before its shutdown, `Next` once the shutdown began (its next
 * write carries close_notify), `Writing` while that write is made, `Written`
 * after it.
 */
type CloseNotifyState = "Open" | "Next" | "Writing" | "Written"

/**
 * The ciphertext side of a duplex engine, and the state only that mode has:
 * what the TLSSocket writes waits in `outbox` until the IO fiber takes it;
 * what the IO fiber feeds is pushed to the TLSSocket. A native engine has none
 * of it.
 */
class CiphertextDuplex extends Duplex {
  readonly owner: SocketEngine
  // Outbound invariant: a TLSSocket write's callback is held until the IO
  // fiber took every chunk of it, so Node's write backpressure is the IO fiber's.
  outbox: Array<Uint8Array> = []
  outboxHead = 0
  held: Array<HeldWrite> = []
  heldHead = 0
  /** The TLSSocket ended its writable side (close_notify is in `outbox`). */
  finalDone = false
  /** The transport's EOF reached the TLSSocket (the readable side ended). */
  eofDelivered = false
  eofFed = false
  /** How OpenSSL's EOF came, decided when it came (see `trackedPush`). */
  endKind: "CloseNotify" | "Truncated" | undefined = undefined
  /** Set by the TLSSocket's shutdown (see `trackedFinal`) and by `write`. */
  closeNotify: CloseNotifyState = "Open"

  constructor(owner: SocketEngine) {
    // Not `autoDestroy`: Node would destroy the duplex as soon as both of its
    // sides are done (the transport's EOF was read, close_notify was written),
    // and Node's wrapper destroys itself and the TLSSocket on the duplex's
    // 'close' (JSStreamSocket's 'close' listener), discarding plaintext the
    // TLSSocket still buffers while it is paused. Invariant: the duplex is
    // destroyed only with the TLSSocket (Node's wrapper destroys it when the
    // TLSSocket closes, which a graceful end does only after its last 'data')
    // or by the engine (`destroy`, or a fatal error).
    super({ allowHalfOpen: true, decodeStrings: true, autoDestroy: false })
    this.owner = owner
    // Registered before the TLSSocket wraps the duplex, so it runs before
    // Node's own 'end' listener hands the EOF to OpenSSL: an EOF OpenSSL
    // reports before this ran came from close_notify.
    this.on("end", onDuplexEnd)
    this.on("error", noop)
  }

  override _read(): void {
    // The TLSSocket wants ciphertext again (it was paused by backpressure).
    this.owner.wake()
  }

  /**
   * Every ciphertext write of the TLSSocket comes through here (Node's
   * wrapper, JSStreamSocket, writes each buffer of one TLS write in one
   * synchronous run). What it writes after the write that carries
   * close_notify is dropped: no record may follow close_notify (RFC 8446
   * section 4.6.3), so no KeyUpdate answer is due any more, and the writable
   * side may already be ended, where a write would fail the connection.
   * OpenSSL does produce such output: the answer it owes to a KeyUpdate
   * request is flushed when the peer's next handshake message arrives, which
   * can be after our close_notify.
   */
  override write(chunk: unknown, callback?: WriteCallback): boolean
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteCallback): boolean
  override write(
    chunk: unknown,
    encodingOrCallback?: BufferEncoding | WriteCallback,
    callback?: WriteCallback
  ): boolean {
    if (this.closeNotify === "Written" || this.writableEnded) {
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback
      // Asynchronously, as a Writable calls it.
      if (done !== undefined) process.nextTick(done, null)
      return true
    }
    if (this.closeNotify === "Next") {
      // The rest of this TLS write follows in this synchronous run; Node makes
      // the next one only once this one completed (in a later setImmediate),
      // so the tick ends close_notify's write.
      this.closeNotify = "Writing"
      process.nextTick(closeNotifyWritten, this)
    }
    if (typeof encodingOrCallback === "function") return super.write(chunk, encodingOrCallback)
    if (encodingOrCallback === undefined) return super.write(chunk, callback)
    return super.write(chunk, encodingOrCallback, callback)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hold([chunk], callback)
  }

  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void
  ): void {
    this.hold(
      chunks.map((entry) => entry.chunk),
      callback
    )
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.finalDone = true
    this.owner.wake()
    callback()
  }

  /** The ciphertext waits for the IO fiber, and so does Node's callback. */
  private hold(chunks: ReadonlyArray<Buffer>, callback: (error?: Error | null) => void): void {
    let count = 0
    for (const chunk of chunks) {
      if (chunk.length === 0) continue
      this.outbox.push(chunk)
      count++
    }
    if (count === 0) {
      callback()
      return
    }
    this.held.push({ remaining: count, callback })
    this.owner.wake()
  }

  takeCiphertext(): Uint8Array | undefined {
    if (this.outboxHead === this.outbox.length) return undefined
    const chunk = this.outbox[this.outboxHead] as Uint8Array
    this.outbox[this.outboxHead] = EMPTY
    this.outboxHead++
    if (this.outboxHead === this.outbox.length) {
      this.outbox.length = 0
      this.outboxHead = 0
    }
    const write = this.held[this.heldHead]
    if (write !== undefined && --write.remaining === 0) {
      this.heldHead++
      if (this.heldHead === this.held.length) {
        this.held.length = 0
        this.heldHead = 0
      }
      // May synchronously hand over more ciphertext; the caller loops until undefined.
      write.callback()
    }
    return chunk
  }

  get hasCiphertext(): boolean {
    return this.outboxHead < this.outbox.length
  }
}

function onDuplexEnd(this: CiphertextDuplex): void {
  this.eofDelivered = true
}

function closeNotifyWritten(duplex: CiphertextDuplex): void {
  duplex.closeNotify = "Written"
}

/**
 * Where the shared listeners below find their engine: Node calls a listener
 * with the socket as `this`, so one function serves every connection instead
 * of a closure per connection and event.
 */
const ENGINE: unique symbol = Symbol("effect-tls/SocketEngine")

interface OwnedSocket extends tls.TLSSocket {
  [ENGINE]: SocketEngine
}

const engineOf = (socket: tls.TLSSocket): SocketEngine => (socket as OwnedSocket)[ENGINE]

const nodePush = tls.TLSSocket.prototype.push
const nodeFinal = tls.TLSSocket.prototype._final

class SocketEngine implements Engine {
  readonly role: "client" | "server"
  readonly native: boolean
  private readonly tcp: net.Socket | undefined
  private readonly tlsOptions: EngineTlsOptions
  private readonly extras: EngineExtras
  private waker: () => void = noop
  /** The DER of the peer's chain as verified (see `peerChain`). */
  private verifiedPeer: ReadonlyArray<Buffer> | undefined = undefined
  /** Set when the IO fiber found writes pending and waits for them to reach the socket. */
  private drainWanted = false
  private socket: tls.TLSSocket | undefined = undefined

  // Inbound invariant: plaintext the TLSSocket emitted waits in `inbox` until
  // the IO fiber takes it. Once it holds more than INBOX_LIMIT bytes (more than
  // one record: the IO fiber has not taken the last one) the TLSSocket is
  // paused, so Node stops reading (TCP backpressure, or the duplex's readable
  // side stops flowing) and at most one stream buffer more arrives. Not at one
  // full record: Node hands each record over in a callback of its own, so that
  // paused and resumed the socket for every record, at a cost of several µs each.
  private readonly inbox: Array<Uint8Array> = []
  private inboxHead = 0
  private inboxBytes = 0
  private paused = false
  private tlsEnded = false
  /** Set on 'end', after the last 'data': every plaintext chunk is in `inbox`. */
  private inboundState: InboundState = "Open"

  private secure = false
  private error: TlsError | undefined = undefined
  /** Made on the first event: most connections have few, and most steps none. */
  private events: Array<TlsEvent> | undefined = undefined
  private sessionInfo: TlsSession | undefined = undefined

  // Outbound invariant: plaintext written to the TLSSocket is pending while the
  // socket counts it in `writableLength`; for a duplex engine it then waits as
  // ciphertext in the duplex (see `CiphertextDuplex`).
  private endRequested = false
  private finished = false
  private destroyed = false

  /** Duplex mode only: made by `start`. */
  private duplex: CiphertextDuplex | undefined = undefined

  constructor(
    role: "client" | "server",
    tcp: net.Socket | undefined,
    tlsOptions: EngineTlsOptions,
    extras: EngineExtras
  ) {
    this.role = role
    this.native = tcp !== undefined
    this.tcp = tcp
    this.tlsOptions = tlsOptions
    this.extras = extras
  }

  wake(): void {
    this.waker()
  }

  setWaker(wake: () => void): void {
    this.waker = wake
  }

  start(): void {
    if (this.destroyed) return
    const tcp = this.tcp
    let under: net.Socket | Duplex
    if (tcp !== undefined) {
      under = tcp
    } else {
      this.duplex = new CiphertextDuplex(this)
      under = this.duplex
    }
    const socket =
      this.role === "client"
        ? tls.connect({
            ...this.tlsOptions,
            socket: under as Duplex,
            // Node builds the verified chain for this check (full handshakes):
            // kept for the session, instead of building it a second time.
            checkServerIdentity: (hostname, certificate) => {
              this.verifiedPeer = this.shared(Session.chainDer(certificate))
              return (this.tlsOptions.checkServerIdentity ?? tls.checkServerIdentity)(hostname, certificate)
            }
          })
        : new tls.TLSSocket(under as Duplex, { ...this.tlsOptions, isServer: true })
    this.socket = socket
    this.listen(socket)
    // The TLSSocket forwards the TCP socket's errors now: the guard is not needed.
    if (tcp !== undefined) tcp.off("error", ignoreError)
    if (this.role === "server") socket.disableRenegotiation()
  }

  private listen(socket: tls.TLSSocket): void {
    ;(socket as OwnedSocket)[ENGINE] = this
    // An EOF from OpenSSL is pushed to the socket's readable side at once;
    // noting the moment there tells close_notify (EOF before the transport's)
    // from truncation (EOF only after it). `push` is the public hook every
    // readable stream goes through.
    socket.push = trackedPush
    // Duplex: the start of the TLS shutdown tells which ciphertext write
    // carries close_notify (see `CiphertextDuplex.write`).
    if (this.duplex !== undefined) socket._final = trackedFinal
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("drain", onWake)
    socket.on("finish", onFinish)
    // A server TLSSocket outside a tls.Server keeps "control" of its errors and
    // reports them only as '_tlsError'; a client's come as 'error'. Both are
    // followed; the first one wins.
    socket.on("error", onSocketError)
    socket.on("_tlsError", onSocketError)
    socket.on("close", onClose)
    if (this.role === "client") {
      socket.on("secureConnect", onSecure)
      if (this.tlsOptions.requestOCSP === true) socket.on("OCSPResponse", onOcspResponse)
      socket.on("session", onTicket)
    } else {
      socket.on("secure", onSecure)
    }
    if (this.extras.keylog === true || this.extras.onKeylog !== undefined) {
      const onKeylog = this.extras.onKeylog
      const events = this.extras.keylog === true
      socket.on("keylog", (line: Buffer) => {
        onKeylog?.(line)
        if (events) {
          this.event(TlsEvent.Keylog({ line: line.toString("latin1").trimEnd() }))
          this.waker()
        }
      })
    }
  }

  // --- Node's events (through the shared listeners below) -------------------

  /** The TLSSocket's shutdown begins: OpenSSL writes close_notify now. */
  onShutdown(): void {
    const duplex = this.duplex
    if (duplex !== undefined && duplex.closeNotify === "Open") duplex.closeNotify = "Next"
  }

  /** OpenSSL's EOF reaches the readable side. */
  onTlsEnd(): void {
    if (this.tlsEnded) return
    this.tlsEnded = true
    const duplex = this.duplex
    if (duplex !== undefined) duplex.endKind = duplex.eofDelivered ? "Truncated" : "CloseNotify"
  }

  onData(chunk: Buffer): void {
    this.inbox.push(chunk)
    this.inboxBytes += chunk.length
    if (this.inboxBytes > INBOX_LIMIT && !this.paused && this.socket !== undefined) {
      this.paused = true
      this.socket.pause()
    }
    this.waker()
  }

  onEnd(): void {
    if (!this.secure) {
      this.onError(
        new TlsTransportError({
          reason: "ConnectionReset",
          detail: "the peer closed the connection in the handshake"
        })
      )
      return
    }
    const duplex = this.duplex
    this.inboundState =
      duplex === undefined ? "Ended" : (duplex.endKind ?? (duplex.eofDelivered ? "Truncated" : "CloseNotify"))
    this.waker()
  }

  onFinish(): void {
    this.finished = true
    this.waker()
  }

  onClose(): void {
    if (!this.destroyed && this.error === undefined && !(this.secure && this.inboundState !== "Open")) {
      this.onError(
        new TlsTransportError({
          reason: "ConnectionReset",
          detail: this.secure ? "the connection closed" : "the connection closed in the handshake"
        })
      )
    }
    this.waker()
  }

  onIdle(): void {
    this.onError(
      new TlsTransportError({ reason: "Timeout", detail: `no traffic for ${this.extras.idleTimeout ?? 0} ms` })
    )
  }

  onOcspResponse(response: Buffer): void {
    this.event(TlsEvent.OcspResponse({ response: new Uint8Array(response) }))
    this.waker()
  }

  /**
   * A client's 'session': the event and the session cache share one copy of
   * the ticket. Node's Buffer is a slice of a 64 KiB slab that other tickets
   * share, so keeping it (in the event history, for the connection's life, or
   * in the cache) would keep the whole slab; the copy has its own memory of
   * exactly the ticket's size.
   */
  onTicket(session: Buffer): void {
    const ticket = new Uint8Array(session)
    this.event(TlsEvent.SessionTicket({ ticket }))
    const onSession = this.extras.onSession
    if (onSession !== undefined) onSession(Buffer.from(ticket.buffer, 0, ticket.byteLength), this.peerChain())
    this.waker()
  }

  private event(event: TlsEvent): void {
    if (this.events === undefined) this.events = [event]
    else this.events.push(event)
  }

  /**
   * The peer's chain as verified: what Node built for the hostname check, or
   * for a resumed session the chain verified when it was made; a server that
   * asked for no client certificate has none; otherwise Node is asked.
   */
  private peerChain(): ReadonlyArray<Buffer> {
    if (this.verifiedPeer !== undefined) return this.verifiedPeer
    const socket = this.socket
    if (socket === undefined) return []
    if (this.role === "client" && socket.isSessionReused() && this.extras.resumedPeerChain !== undefined) {
      return this.extras.resumedPeerChain
    }
    if (this.role === "server" && this.tlsOptions.requestCert !== true) return []
    // Node returns an empty object when the peer sent no certificate.
    this.verifiedPeer = this.shared(Session.chainDer(socket.getPeerCertificate(true)))
    return this.verifiedPeer
  }

  private shared(chain: ReadonlyArray<Buffer>): ReadonlyArray<Buffer> {
    const share = this.extras.sharePeerChain
    return share === undefined || chain.length === 0 ? chain : share(chain)
  }

  onSecure(socket: tls.TLSSocket): void {
    if (this.error !== undefined || this.destroyed) return
    let peerVerified: boolean
    if (this.role === "client") {
      peerVerified = socket.authorized
      const pins = this.extras.pinnedSpkiSha256
      if (pins !== undefined && pins.length > 0) {
        const leaf = socket.getPeerX509Certificate()
        const spki =
          leaf === undefined
            ? undefined
            : createHash("sha256")
                .update(leaf.publicKey.export({ type: "spki", format: "der" }))
                .digest("base64")
        if (spki === undefined || !pins.includes(spki)) {
          this.onError(
            new TlsHandshakeError({
              reason: "PinMismatch",
              detail: `the server's public key (SPKI SHA-256 ${spki ?? "none"}) is not pinned`
            })
          )
          return
        }
      }
    } else {
      // A tls.Server checks the client's chain after the handshake (OpenSSL is
      // told to accept any chain); outside one, that check is ours.
      peerVerified = false
      if (this.tlsOptions.requestCert === true) {
        const handle = (socket as unknown as { readonly ssl: TlsWrapHandle | null }).ssl
        const verifyError = handle === null ? null : handle.verifyError()
        const hasCertificate = socket.getPeerX509Certificate() !== undefined
        if (verifyError === null && hasCertificate) {
          peerVerified = true
        } else if (this.tlsOptions.rejectUnauthorized !== false) {
          this.onError(
            verifyError ??
              new TlsHandshakeError({
                reason: "PeerCertificateRequired",
                detail: "the client sent no certificate"
              })
          )
          return
        }
      }
    }
    this.sessionInfo = Session.fromSocket(socket, this.role, {
      servername: this.role === "client" ? this.extras.servername : undefined,
      peerVerified,
      peerChain: this.peerChain()
    })
    // The connection publishes HandshakeDone itself when it sees handshakeDone().
    this.secure = true
    // The idle timer starts with the established connection: the handshake has
    // its own timeout, and a stalled handshake is reported as that.
    const idle = this.extras.idleTimeout
    if (idle !== undefined && idle > 0) {
      socket.setTimeout(idle)
      socket.on("timeout", onIdle)
    }
    this.waker()
  }

  onError(error: unknown): void {
    if (this.error !== undefined || this.destroyed) return
    const mapped = isTlsError(error) ? error : fromNodeError(error, this.secure)
    this.error = mapped
    if ("alert" in mapped && mapped.alert !== undefined && mapped.code !== undefined && /_ALERT_/.test(mapped.code)) {
      this.event(TlsEvent.AlertReceived({ level: "fatal", description: mapped.alert }))
    }
    // Fatal means closed: Node leaves the TCP connection open after an error
    // past the handshake, so the socket is destroyed here.
    this.socket?.destroy()
    this.duplex?.destroy()
    this.waker()
  }

  handshakeDone(): boolean {
    return this.secure
  }

  failure(): TlsError | undefined {
    return this.error
  }

  session(): TlsSession {
    if (this.sessionInfo === undefined) throw new Error("session() before the handshake completed")
    return this.sessionInfo
  }

  // --- inbound ---------------------------------------------------------------

  wantsCiphertext(): boolean {
    const duplex = this.duplex
    return duplex !== undefined && this.inboxBytes < INBOX_LIMIT && duplex.readableLength < CIPHERTEXT_IN_LIMIT
  }

  receiveCiphertext(chunk: Uint8Array): void {
    if (this.duplex === undefined || this.destroyed) return
    this.duplex.push(chunk)
  }

  receiveEnd(): void {
    const duplex = this.duplex
    if (duplex === undefined || duplex.eofFed) return
    duplex.eofFed = true
    duplex.push(null)
  }

  takePlaintext(): Uint8Array | undefined {
    const inbox = this.inbox
    if (this.inboxHead === inbox.length) return undefined
    const chunk = inbox[this.inboxHead] as Uint8Array
    inbox[this.inboxHead] = EMPTY
    this.inboxHead++
    if (this.inboxHead === inbox.length) {
      // Emptied in place: no new array per drained inbox.
      inbox.length = 0
      this.inboxHead = 0
    }
    this.inboxBytes -= chunk.length
    if (this.paused && this.inboxBytes <= INBOX_LIMIT && this.socket !== undefined) {
      this.paused = false
      this.socket.resume()
    }
    return chunk
  }

  inbound(): InboundState {
    // The end is reported once every plaintext chunk was taken.
    return this.inboxHead === this.inbox.length ? this.inboundState : "Open"
  }

  // --- outbound --------------------------------------------------------------

  plaintextWritable(): boolean {
    return this.socket !== undefined && !this.socket.writableNeedDrain && !this.endRequested
  }

  sendPlaintext(chunk: Uint8Array): void {
    this.socket?.write(chunk, this.afterWrite)
  }

  /**
   * A write's callback (Node calls it without a `this`, hence the one closure
   * per engine). The IO fiber is woken only if it asked (an
   * `outboundPending()` that answered true: a flush or close_notify waits);
   * waking it after every write would cost a step per write.
   */
  private readonly afterWrite = (): void => {
    if (this.drainWanted && (this.socket === undefined || this.socket.writableLength === 0)) {
      this.drainWanted = false
      this.waker()
    }
  }

  sendEnd(): void {
    if (this.endRequested) return
    this.endRequested = true
    const socket = this.socket
    if (socket === undefined) return
    // close_notify after the pending writes; native: then the TCP FIN. Node
    // requests the TCP shutdown without waiting for TLS output it is still
    // writing (a client's Finished, right after 'secureConnect'), and that
    // output is then lost: the server sees a FIN in the handshake. An empty
    // write completes only once Node's pending TLS output is written, so the
    // end waits for it.
    socket.write(EMPTY_WRITE, () => {
      if (!socket.destroyed) socket.end()
    })
  }

  takeCiphertext(): Uint8Array | undefined {
    return this.duplex?.takeCiphertext()
  }

  outboundPending(): boolean {
    const socket = this.socket
    if (socket === undefined) return false
    if (socket.writableLength > 0) {
      this.drainWanted = true
      return true
    }
    const duplex = this.duplex
    if (duplex === undefined) return false
    // Duplex: close_notify is handed on once the TLSSocket ended the duplex,
    // which happens only after its ciphertext was taken.
    return duplex.hasCiphertext || (this.endRequested && !duplex.finalDone)
  }

  outboundEnded(): boolean {
    return this.finished
  }

  takeEvents(): ReadonlyArray<TlsEvent> {
    const events = this.events
    if (events === undefined) return NO_EVENTS
    this.events = undefined
    return events
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.socket?.destroy()
    this.duplex?.destroy()
    this.tcp?.destroy()
  }
}

// The listeners every engine's TLSSocket shares (`this` is the socket).

function trackedPush(this: tls.TLSSocket, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null) engineOf(this).onTlsEnd()
  return nodePush.call(this, chunk, encoding)
}

/**
 * The TLSSocket's `_final` (duplex mode): Node's TLS shutdown runs in it
 * (TLSWrap::DoShutdown: SSL_shutdown, then the write of what OpenSSL has to
 * send). Nothing else waits in OpenSSL then (`sendEnd` ends the socket once
 * its last write completed), so the first ciphertext write the TLSSocket
 * makes from here on carries close_notify: at once, or once a write still in
 * progress completed. Output OpenSSL produced in between lands in the same
 * write, behind close_notify, and cannot be told from it: it goes out too.
 */
function trackedFinal(this: tls.TLSSocket, callback: (error?: Error | null) => void): void {
  engineOf(this).onShutdown()
  nodeFinal.call(this, callback)
}

function onData(this: tls.TLSSocket, chunk: Buffer): void {
  engineOf(this).onData(chunk)
}

function onEnd(this: tls.TLSSocket): void {
  engineOf(this).onEnd()
}

function onWake(this: tls.TLSSocket): void {
  engineOf(this).wake()
}

function onFinish(this: tls.TLSSocket): void {
  engineOf(this).onFinish()
}

function onSocketError(this: tls.TLSSocket, error: Error): void {
  engineOf(this).onError(error)
}

function onClose(this: tls.TLSSocket): void {
  engineOf(this).onClose()
}

function onSecure(this: tls.TLSSocket): void {
  engineOf(this).onSecure(this)
}

function onIdle(this: tls.TLSSocket): void {
  engineOf(this).onIdle()
}

function onOcspResponse(this: tls.TLSSocket, response: Buffer): void {
  engineOf(this).onOcspResponse(response)
}

function onTicket(this: tls.TLSSocket, session: Buffer): void {
  engineOf(this).onTicket(session)
}

const EMPTY = new Uint8Array(0)
const NO_EVENTS: ReadonlyArray<TlsEvent> = []
