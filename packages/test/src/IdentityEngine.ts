/**
 * An engine that does nothing: no framing, no handshake (done at once),
 * ciphertext equal to plaintext. It measures the connection's own overhead
 * and tests code that needs a connection but not TLS. A transport EOF is a
 * clean end (`Ended`): there is no close_notify to tell it from truncation.
 *
 * @since 0.1.0
 */
import { type Engine, type InboundState, recordPlaintextBytes } from "@effect-tls/core/Engine"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { TlsEvent } from "@effect-tls/core/TlsEvent"
import type { TlsSession } from "@effect-tls/core/TlsSession"
import { fakeSession } from "./internal/session.ts"

/**
 * Makes an engine.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly role: "client" | "server" }): Engine => new Identity(options.role)

/** Plaintext held before the engine stops taking ciphertext, and ciphertext before it stops taking plaintext. */
const LIMIT = recordPlaintextBytes
const noEvents: ReadonlyArray<TlsEvent> = []

class Identity implements Engine {
  readonly role: "client" | "server"
  readonly native = false
  private readonly sessionValue: TlsSession
  private started = false
  private eof = false
  private inbox: Array<Uint8Array> = []
  private inboxHead = 0
  private inboxBytes = 0
  private outbox: Array<Uint8Array> = []
  private outboxHead = 0
  private outboxBytes = 0

  constructor(role: "client" | "server") {
    this.role = role
    this.sessionValue = fakeSession(role, "IDENTITY")
  }

  readonly setWaker = (_wake: () => void): void => {}
  readonly start = (): void => {
    this.started = true
  }
  readonly handshakeDone = (): boolean => this.started
  readonly failure = (): TlsError | undefined => undefined
  readonly session = (): TlsSession => this.sessionValue

  readonly wantsCiphertext = (): boolean => this.inboxBytes < LIMIT
  readonly receiveCiphertext = (chunk: Uint8Array): void => {
    this.inbox.push(chunk)
    this.inboxBytes += chunk.length
  }
  readonly receiveEnd = (): void => {
    this.eof = true
  }
  readonly takePlaintext = (): Uint8Array | undefined => {
    const chunk = this.inbox[this.inboxHead]
    if (chunk === undefined) return undefined
    this.inboxHead++
    this.inboxBytes -= chunk.length
    if (this.inboxHead === this.inbox.length) {
      this.inbox = []
      this.inboxHead = 0
    }
    return chunk
  }
  readonly inbound = (): InboundState => (this.eof && this.inboxBytes === 0 ? "Ended" : "Open")

  readonly plaintextWritable = (): boolean => this.outboxBytes < LIMIT
  readonly sendPlaintext = (chunk: Uint8Array): void => {
    this.outbox.push(chunk)
    this.outboxBytes += chunk.length
  }
  readonly sendEnd = (): void => {}
  readonly takeCiphertext = (): Uint8Array | undefined => {
    const chunk = this.outbox[this.outboxHead]
    if (chunk === undefined) return undefined
    this.outboxHead++
    this.outboxBytes -= chunk.length
    if (this.outboxHead === this.outbox.length) {
      this.outbox = []
      this.outboxHead = 0
    }
    return chunk
  }
  readonly outboundPending = (): boolean => this.outboxHead < this.outbox.length
  readonly outboundEnded = (): boolean => false

  readonly takeEvents = (): ReadonlyArray<TlsEvent> => noEvents
  readonly destroy = (): void => {
    this.inbox = []
    this.outbox = []
  }
}
