/**
 * The states of a TLSSocket engine: one type for its lifecycle and one for
 * each direction, each with the transitions it allows. The engine
 * (`socketEngine.ts`) holds one value of each and makes every transition;
 * what it does not keep as a phase it derives from the TLSSocket or from its
 * buffers.
 */
import type { InboundState } from "@effect-tls/core/Engine"

/**
 * The engine's lifecycle: the handshake, the established connection, and
 * how it stops.
 *
 * ```text
 *  Created --start--> Handshaking --handshake done, peer accepted--> Established
 *                         |                                               |
 *                         | fatal error                       fatal error |
 *                         v                                               |
 *                       Failed <------------------------------------------+
 *
 *  any phase --destroy--> Destroyed
 * ```
 *
 * Only `Handshaking` and `Established` take a completed handshake or a
 * failure ({@link isLive}): the first failure wins, and none is recorded
 * after `destroy`. `Failed` and `Destroyed` are final but for `Failed
 * --destroy--> Destroyed`, after which the failure is still reported. A
 * repeated handshake (TLS 1.2 renegotiation, which the engine's options
 * refuse) stays in `Established` and checks the peer again. Node's other
 * callbacks (plaintext, the ends) are recorded in any phase; after a failure
 * the connection reads nothing from the engine but its last events.
 */
export type Phase = "Created" | "Handshaking" | "Established" | "Failed" | "Destroyed"

/** Whether the engine still takes a completed handshake or a failure. */
export const isLive = (phase: Phase): boolean => phase === "Handshaking" || phase === "Established"

/** How the inbound direction ended: the core's `InboundState` but `Open`. */
export type InboundEnd = Exclude<InboundState, "Open">

/**
 * The inbound direction: plaintext out of the TLSSocket.
 *
 * ```text
 *  Open --OpenSSL's EOF reaches the readable side--> Ending(end) --'end'--> Ended(end)
 *    |                                                                         ^
 *    +------------- 'end' with no EOF seen (see NodeInternals.trackEof) --------+
 * ```
 *
 * `end` is decided when OpenSSL's EOF arrives, because only then can the
 * duplex mode tell close_notify from the transport's EOF (see
 * `nodeInternals.ts`); `Ending` means plaintext may still be on its way
 * from the TLSSocket. `Ended` means every plaintext chunk is in the engine's
 * inbox; the engine reports the end once the inbox is empty too.
 */
export type InboundPhase =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Ending"; readonly end: InboundEnd }
  | { readonly _tag: "Ended"; readonly end: InboundEnd }

/** The inbound phases, made once: a transition allocates nothing. */
export const InboundPhase: {
  readonly Open: InboundPhase
  readonly Ending: Readonly<Record<InboundEnd, InboundPhase>>
  readonly Ended: Readonly<Record<InboundEnd, InboundPhase>>
} = {
  Open: { _tag: "Open" },
  Ending: {
    CloseNotify: { _tag: "Ending", end: "CloseNotify" },
    Truncated: { _tag: "Ending", end: "Truncated" },
    Ended: { _tag: "Ending", end: "Ended" }
  },
  Ended: {
    CloseNotify: { _tag: "Ended", end: "CloseNotify" },
    Truncated: { _tag: "Ended", end: "Truncated" },
    Ended: { _tag: "Ended", end: "Ended" }
  }
}

/**
 * The outbound direction: plaintext into the TLSSocket.
 *
 * ```text
 *  Open --sendEnd--> EndRequested --'finish'--> Finished
 * ```
 *
 * `EndRequested`: close_notify (and, for a native engine, the TCP FIN)
 * follows the plaintext written so far, and no more plaintext is taken.
 * `Finished`: the TLSSocket ended its writable side (native: the FIN was
 * sent). Every socket under an engine is half-open (`allowHalfOpen`), so Node
 * never ends one by itself and 'finish' comes only after `sendEnd`.
 */
export type OutboundPhase = "Open" | "EndRequested" | "Finished"
