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
import { ChunkQueue } from "./internal/chunkQueue.ts"
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
  private readonly inbox = new ChunkQueue()
  private readonly outbox = new ChunkQueue()

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

  readonly wantsCiphertext = (): boolean => this.inbox.bytes < LIMIT
  readonly receiveCiphertext = (chunk: Uint8Array): void => this.inbox.push(chunk)
  readonly receiveEnd = (): void => {
    this.eof = true
  }
  readonly takePlaintext = (): Uint8Array | undefined => this.inbox.shift()
  readonly inbound = (): InboundState => (this.eof && this.inbox.isEmpty ? "Ended" : "Open")

  readonly plaintextWritable = (): boolean => this.outbox.bytes < LIMIT
  readonly sendPlaintext = (chunk: Uint8Array): void => this.outbox.push(chunk)
  readonly sendEnd = (): void => {}
  readonly takeCiphertext = (): Uint8Array | undefined => this.outbox.shift()
  readonly outboundPending = (): boolean => !this.outbox.isEmpty
  readonly outboundEnded = (): boolean => false

  readonly takeEvents = (): ReadonlyArray<TlsEvent> => noEvents
  readonly destroy = (): void => {
    this.inbox.clear()
    this.outbox.clear()
  }
}
