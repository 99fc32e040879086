/**
 * The states of a connection: one per direction, one for the whole, and the
 * outcome derived from them in one place.
 */
import { CloseOutcome } from "../../CloseOutcome.ts"
import type { InboundState } from "../../Engine.ts"
import type { TlsError } from "../../TlsError.ts"
import type { TlsSession } from "../../TlsSession.ts"

/**
 * The receive direction (transport -> engine -> read buffer).
 *
 * ```text
 *   Reading --transport EOF handed to the engine--> Draining
 *      |                                               |
 *      +---- the engine's inbound ended and its last --+--> Ended(how)
 *            plaintext chunk reached the read buffer
 * ```
 *
 * `how` is what the engine could tell: `CloseNotify`, `Ended` (a native
 * engine cannot tell close_notify from a FIN) or `Truncated`.
 */
export type Receive =
  | { readonly _tag: "Reading" }
  | { readonly _tag: "Draining" }
  | { readonly _tag: "Ended"; readonly how: Exclude<InboundState, "Open"> }

/**
 * The send direction (write buffer -> engine -> outbox -> transport).
 *
 * ```text
 *   Sending --end requested, write buffer empty--> Notifying  (close_notify handed to the engine)
 *   Notifying --outbox and engine drained-------->  Finishing  (the transport's FIN requested)
 *   Finishing --the transport's write side done-->  Done
 * ```
 */
export type Send =
  | { readonly _tag: "Sending" }
  | { readonly _tag: "Notifying" }
  | { readonly _tag: "Finishing" }
  | { readonly _tag: "Done" }

/**
 * The connection.
 *
 * ```text
 *   Connecting --transport open--> Handshaking --handshake done--> Established --receive Ended and send Done--> Closed(Clean | Truncated)
 *        |                              |                              |
 *        +---------------------- a fatal error ------------------------+--> Closed(Failed)
 *        +------------------- the scope closes first ------------------+--> Closed(Forced | what the directions reached)
 * ```
 *
 * `Connecting` only for an engine that opens its own transport (see
 * `Engine.connectingTo`); every other connection starts in `Handshaking`.
 */
export type Lifecycle =
  | { readonly _tag: "Connecting" }
  | { readonly _tag: "Handshaking" }
  | { readonly _tag: "Established"; readonly session: TlsSession }
  | { readonly _tag: "Closed"; readonly outcome: CloseOutcome }

export const reading: Receive = { _tag: "Reading" }
export const draining: Receive = { _tag: "Draining" }
export const ended = (how: Exclude<InboundState, "Open">): Receive => ({ _tag: "Ended", how })

export const sending: Send = { _tag: "Sending" }
export const notifying: Send = { _tag: "Notifying" }
export const finishing: Send = { _tag: "Finishing" }
export const done: Send = { _tag: "Done" }

export const connecting: Lifecycle = { _tag: "Connecting" }
export const handshaking: Lifecycle = { _tag: "Handshaking" }

/** The fatal error that closed the connection, if one did. */
export const failureOf = (lifecycle: Lifecycle): TlsError | undefined =>
  lifecycle._tag === "Closed" && lifecycle.outcome._tag === "Failed" ? lifecycle.outcome.error : undefined

/**
 * How the connection ended, from what it reached: the one place an outcome is
 * decided. `forced` is set when the close gave up on the graceful part.
 */
export const outcomeOf = (
  lifecycle: Lifecycle,
  receive: Receive,
  send: Send,
  forced?: string | undefined
): CloseOutcome => {
  if (lifecycle._tag === "Closed") return lifecycle.outcome
  if (forced !== undefined) return CloseOutcome.Forced({ detail: forced })
  if (lifecycle._tag === "Connecting") return CloseOutcome.Forced({ detail: "closed while connecting" })
  if (lifecycle._tag === "Handshaking") {
    return CloseOutcome.Forced({ detail: "closed before the handshake completed" })
  }
  if (receive._tag === "Ended" && receive.how === "Truncated") return CloseOutcome.Truncated()
  // `Ended`: the engine saw the end but cannot tell whether close_notify came before it.
  return CloseOutcome.Clean({
    peerEnded: receive._tag === "Ended",
    closeNotifyReceived: receive._tag === "Ended" && receive.how === "CloseNotify",
    closeNotifySent: send._tag === "Done"
  })
}
