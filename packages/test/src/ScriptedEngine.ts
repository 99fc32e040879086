/**
 * A deterministic fake TLS engine, with no cryptography, for testing the
 * connection driver and anything built on it.
 *
 * Records are `[type:1][length:2 BE][payload]` with at most 16 KiB of payload:
 * handshake, data, keyUpdate (payload: the `requested` flag), alert (level,
 * description) and closeNotify. The handshake is three records (client hello,
 * server hello, client finished). The engine behaves like TLS where the
 * driver can tell: data before the handshake is a protocol error; a KeyUpdate
 * that asks for an answer is answered *while reading* (the answer waits in the
 * engine's ciphertext output for the IO fiber, the split-safety case);
 * closeNotify ends the inbound side cleanly and a transport EOF without it is
 * a truncation; a malformed record produces a fatal `decode_error` alert and a
 * `TlsProtocolError` `DecodeError`.
 *
 * Test hooks (`requestKeyUpdate`, `sendAlert`, `failWith`) may be called from
 * any fiber: they only buffer output and wake the IO fiber asynchronously.
 *
 * @since 0.1.0
 */
import type { Engine, InboundState } from "@effect-tls/core/Engine"
import {
  AlertReceived,
  DecodeError,
  type HandshakeFailureReason,
  Other,
  type TlsError,
  TlsHandshakeError,
  TlsProtocolError,
  UnexpectedMessage
} from "@effect-tls/core/TlsError"
import { TlsEvent } from "@effect-tls/core/TlsEvent"
import type { TlsSession } from "@effect-tls/core/TlsSession"
import { ChunkQueue } from "./internal/chunkQueue.ts"
import { AsyncWaker, CallerLog } from "./internal/owners.ts"
import { encode, HEADER, MAX_PAYLOAD, RecordType, type RecordTypeName, typeName } from "./internal/records.ts"
import { fakeSession } from "./internal/session.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly role: "client" | "server"
  /** Never answer the handshake (for handshake timeouts). */
  readonly silent?: boolean | undefined
  /** Fail the handshake with a `TlsHandshakeError` of this reason (after a fatal alert to the peer). */
  readonly rejectHandshake?: HandshakeFailureReason | undefined
}

/**
 * The engine plus its test hooks.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScriptedEngine extends Engine {
  /** Queues a KeyUpdate with `requested = 1`; the peer must answer it. */
  readonly requestKeyUpdate: () => void
  /** Queues an alert; a fatal one also fails this engine. */
  readonly sendAlert: (level: "warning" | "fatal", description: number) => void
  /** Injects a fatal error, reported by `failure()`. */
  readonly failWith: (error: TlsError) => void
  /** The record types received, in order. */
  readonly received: ReadonlyArray<RecordTypeName>
  /** The record types sent (handed to `takeCiphertext`), in order. */
  readonly sent: ReadonlyArray<RecordTypeName>
  /**
   * The fibers (by id, `"none"` outside any fiber) that called an engine
   * method. `session` and `destroy` are left out: the driver reads the session
   * once from the fiber that made the connection and destroys the engine after
   * the IO fiber ended.
   */
  readonly callers: () => ReadonlyArray<number | "none">
}

/**
 * The alert descriptions the engine uses (TLS numbering).
 *
 * @since 0.1.0
 * @category constants
 */
export const Alert = {
  unexpectedMessage: 10,
  handshakeFailure: 40,
  decodeError: 50,
  internalError: 80
} as const

/**
 * Makes an engine.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): ScriptedEngine => new Scripted(options)

/** Handshake steps, carried as the one-byte payload of handshake records. */
const HELLO = 1
const SERVER_HELLO = 2
const FINISHED = 3

/** Ciphertext output above which the engine refuses more plaintext. */
const OUTPUT_LIMIT = 2 * (MAX_PAYLOAD + HEADER)

class Scripted implements ScriptedEngine {
  readonly role: "client" | "server"
  readonly native = false
  private readonly silent: boolean
  private readonly rejectHandshake: HandshakeFailureReason | undefined
  private readonly log = new CallerLog()
  private readonly waker = new AsyncWaker()
  readonly received: Array<RecordTypeName> = []
  readonly sent: Array<RecordTypeName> = []

  private handshakeComplete = false
  private error: TlsError | undefined = undefined
  private events: Array<TlsEvent> = []

  // Inbound invariant: `input[inputAt..]` is unparsed ciphertext; records are
  // parsed only while undelivered plaintext is below one record, so the engine
  // holds at most one record of plaintext plus one transport chunk.
  private input: Uint8Array = new Uint8Array(0)
  private inputAt = 0
  private readonly plaintext = new ChunkQueue()
  private closeNotifyReceived = false
  private eof = false

  // Outbound invariant: `output` holds encoded records in the order they were
  // produced, control records included; plaintext is accepted only while it is
  // below OUTPUT_LIMIT.
  private readonly output = new ChunkQueue()
  private endSent = false

  private readonly sessionValue: TlsSession

  constructor(options: Options) {
    this.role = options.role
    this.silent = options.silent ?? false
    this.rejectHandshake = options.rejectHandshake
    this.sessionValue = fakeSession(options.role, "SCRIPTED")
  }

  // ---------------------------------------------------------------------------
  // test hooks
  // ---------------------------------------------------------------------------

  readonly requestKeyUpdate = (): void => {
    this.emit(RecordType.keyUpdate, Uint8Array.of(1))
    this.events.push(TlsEvent.KeyUpdate({ direction: "sent", requested: true }))
    this.waker.schedule()
  }

  readonly sendAlert = (level: "warning" | "fatal", description: number): void => {
    this.emit(RecordType.alert, Uint8Array.of(level === "fatal" ? 2 : 1, description))
    this.events.push(TlsEvent.AlertSent({ level, description }))
    if (level === "fatal" && this.error === undefined) {
      this.error = new TlsProtocolError({ reason: new Other({ alert: description, detail: "a fatal alert was sent" }) })
    }
    this.waker.schedule()
  }

  readonly failWith = (error: TlsError): void => {
    if (this.error === undefined) this.error = error
    this.waker.schedule()
  }

  readonly callers = (): ReadonlyArray<number | "none"> => this.log.callers(["session", "destroy"])

  // ---------------------------------------------------------------------------
  // Engine
  // ---------------------------------------------------------------------------

  readonly setWaker = (wake: () => void): void => {
    this.log.record("setWaker")
    this.waker.set(wake)
  }

  readonly start = (): void => {
    this.log.record("start")
    if (this.role === "client") this.emit(RecordType.handshake, Uint8Array.of(HELLO))
  }

  readonly handshakeDone = (): boolean => {
    this.log.record("handshakeDone")
    return this.handshakeComplete
  }

  readonly failure = (): TlsError | undefined => {
    this.log.record("failure")
    return this.error
  }

  readonly session = (): TlsSession => {
    this.log.record("session")
    return this.sessionValue
  }

  readonly wantsCiphertext = (): boolean => {
    this.log.record("wantsCiphertext")
    return (
      this.error === undefined &&
      !this.closeNotifyReceived &&
      this.plaintext.bytes < MAX_PAYLOAD &&
      this.input.length - this.inputAt < MAX_PAYLOAD + HEADER
    )
  }

  readonly receiveCiphertext = (chunk: Uint8Array): void => {
    this.log.record("receiveCiphertext")
    if (this.error !== undefined || this.closeNotifyReceived) return
    if (this.inputAt >= this.input.length) {
      this.input = chunk
    } else {
      const rest = this.input.length - this.inputAt
      const joined = new Uint8Array(rest + chunk.length)
      joined.set(this.input.subarray(this.inputAt))
      joined.set(chunk, rest)
      this.input = joined
    }
    this.inputAt = 0
    this.parse()
  }

  readonly receiveEnd = (): void => {
    this.log.record("receiveEnd")
    this.eof = true
    if (this.error === undefined && !this.handshakeComplete) {
      this.error = new TlsHandshakeError({ reason: new Other({ detail: "the transport ended during the handshake" }) })
    }
  }

  readonly takePlaintext = (): Uint8Array | undefined => {
    this.log.record("takePlaintext")
    const chunk = this.plaintext.shift()
    if (chunk === undefined) return undefined
    // Room for another record: parse what is already buffered.
    this.parse()
    return chunk
  }

  readonly inbound = (): InboundState => {
    this.log.record("inbound")
    if (this.closeNotifyReceived) return "CloseNotify"
    // A partial record at EOF is a truncation too.
    if (this.eof && this.plaintext.isEmpty) return "Truncated"
    return "Open"
  }

  readonly plaintextWritable = (): boolean => {
    this.log.record("plaintextWritable")
    return this.error === undefined && this.output.bytes < OUTPUT_LIMIT
  }

  readonly sendPlaintext = (chunk: Uint8Array): void => {
    this.log.record("sendPlaintext")
    if (this.endSent) throw new Error("ScriptedEngine: sendPlaintext after sendEnd")
    if (!this.handshakeComplete) throw new Error("ScriptedEngine: sendPlaintext before the handshake")
    for (let at = 0; at < chunk.length; at += MAX_PAYLOAD) {
      this.emit(RecordType.data, chunk, at, Math.min(MAX_PAYLOAD, chunk.length - at))
    }
  }

  readonly sendEnd = (): void => {
    this.log.record("sendEnd")
    if (this.endSent) return
    this.endSent = true
    this.emit(RecordType.closeNotify, new Uint8Array(0))
  }

  readonly takeCiphertext = (): Uint8Array | undefined => {
    this.log.record("takeCiphertext")
    const record = this.output.shift()
    if (record === undefined) return undefined
    const name = typeName(record[0] as number)
    if (name !== undefined) this.sent.push(name)
    return record
  }

  readonly outboundPending = (): boolean => {
    this.log.record("outboundPending")
    return !this.output.isEmpty
  }

  readonly outboundEnded = (): boolean => {
    this.log.record("outboundEnded")
    return false
  }

  readonly takeEvents = (): ReadonlyArray<TlsEvent> => {
    this.log.record("takeEvents")
    if (this.events.length === 0) return []
    const events = this.events
    this.events = []
    return events
  }

  readonly destroy = (): void => {
    this.log.record("destroy")
    this.input = new Uint8Array(0)
    this.inputAt = 0
    this.plaintext.clear()
    this.output.clear()
  }

  // ---------------------------------------------------------------------------
  // internals
  // ---------------------------------------------------------------------------

  private emit(type: number, payload: Uint8Array, offset = 0, length = payload.length - offset): void {
    const record = encode(type, payload, offset, length)
    this.output.push(record)
  }

  private parse(): void {
    while (this.error === undefined && !this.closeNotifyReceived && this.plaintext.bytes < MAX_PAYLOAD) {
      const input = this.input
      const at = this.inputAt
      if (input.length - at < HEADER) return
      const type = input[at] as number
      const length = ((input[at + 1] as number) << 8) | (input[at + 2] as number)
      const name = typeName(type)
      if (name === undefined || length > MAX_PAYLOAD) {
        this.decodeError(name === undefined ? `unknown record type ${type}` : `record of ${length} bytes`)
        return
      }
      if (input.length - at < HEADER + length) return
      this.inputAt = at + HEADER + length
      this.received.push(name)
      this.handle(type, input.subarray(at + HEADER, at + HEADER + length))
    }
  }

  private handle(type: number, payload: Uint8Array): undefined {
    switch (type) {
      case RecordType.handshake:
        return this.handleHandshake(payload)
      case RecordType.data: {
        if (!this.handshakeComplete) return this.beforeHandshake("application data")
        if (payload.length > 0) {
          this.plaintext.push(payload)
        }
        return
      }
      case RecordType.keyUpdate: {
        const requested = payload[0]
        if (payload.length !== 1 || (requested !== 0 && requested !== 1)) return this.decodeError("bad KeyUpdate")
        if (!this.handshakeComplete) return this.beforeHandshake("a KeyUpdate")
        this.events.push(TlsEvent.KeyUpdate({ direction: "received", requested: requested === 1 }))
        // After its close_notify a side sends nothing more, so a request that
        // arrives then goes unanswered (RFC 8446, sections 4.6.3 and 6.1).
        if (requested === 1 && !this.endSent) {
          // The answer is produced here, while reading: the IO fiber must send it
          // even if the application never writes again.
          this.emit(RecordType.keyUpdate, Uint8Array.of(0))
          this.events.push(TlsEvent.KeyUpdate({ direction: "sent", requested: false }))
        }
        return
      }
      case RecordType.alert: {
        const level = payload[0]
        const description = payload[1]
        if (payload.length !== 2 || (level !== 1 && level !== 2) || description === undefined) {
          return this.decodeError("bad alert")
        }
        this.events.push(TlsEvent.AlertReceived({ level: level === 2 ? "fatal" : "warning", description }))
        if (level === 2) {
          this.error = this.handshakeComplete
            ? new TlsProtocolError({ reason: new AlertReceived({ alert: description }) })
            : new TlsHandshakeError({ reason: new AlertReceived({ alert: description }) })
        }
        return
      }
      case RecordType.closeNotify: {
        if (payload.length !== 0) return this.decodeError("bad close_notify")
        this.closeNotifyReceived = true
        return
      }
    }
  }

  private handleHandshake(payload: Uint8Array): undefined {
    const step = payload.length === 1 ? payload[0] : undefined
    if (this.handshakeComplete) return this.unexpectedHandshake()
    if (this.role === "client") {
      if (step !== SERVER_HELLO) return this.unexpectedHandshake()
      this.emit(RecordType.handshake, Uint8Array.of(FINISHED))
      this.complete()
      return
    }
    if (step !== (this.sawHello ? FINISHED : HELLO)) return this.unexpectedHandshake()
    if (step === FINISHED) return this.complete()
    this.sawHello = true
    if (this.silent) return
    if (this.rejectHandshake !== undefined) {
      return this.fatal(Alert.handshakeFailure, new TlsHandshakeError({ reason: this.rejectHandshake }))
    }
    this.emit(RecordType.handshake, Uint8Array.of(SERVER_HELLO))
  }

  private sawHello = false

  private complete(): undefined {
    // The connection publishes HandshakeDone itself when it sees handshakeDone().
    this.handshakeComplete = true
  }

  private unexpectedHandshake(): undefined {
    const detail = "unexpected handshake message"
    this.fatal(
      Alert.unexpectedMessage,
      this.handshakeComplete
        ? new TlsProtocolError({ reason: new UnexpectedMessage({ alert: Alert.unexpectedMessage, detail }) })
        : new TlsHandshakeError({ reason: new Other({ alert: Alert.unexpectedMessage, detail }) })
    )
  }

  /** A record that only an established connection may receive. */
  private beforeHandshake(what: string): undefined {
    return this.fatal(
      Alert.unexpectedMessage,
      new TlsProtocolError({
        reason: new UnexpectedMessage({
          alert: Alert.unexpectedMessage,
          detail: `${what} before the handshake completed`
        })
      })
    )
  }

  private decodeError(detail: string): undefined {
    this.fatal(
      Alert.decodeError,
      new TlsProtocolError({ reason: new DecodeError({ alert: Alert.decodeError, detail }) })
    )
  }

  /** A fatal error found while reading: the alert is produced first, then the engine fails. */
  private fatal(description: number, error: TlsError): undefined {
    this.emit(RecordType.alert, Uint8Array.of(2, description))
    this.events.push(TlsEvent.AlertSent({ level: "fatal", description }))
    this.error = error
  }
}
