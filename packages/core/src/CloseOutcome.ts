/**
 * How a TLS connection ended.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { TlsError } from "./TlsError.ts"

/**
 * - `Clean`: no error. `peerEnded` tells whether the peer ended its side
 *   before the connection closed (false when it was closed locally first);
 *   `closeNotifyReceived` whether that end is known to have been a
 *   close_notify; `closeNotifySent` whether ours went out. An engine that
 *   cannot tell a close_notify from the transport's bare end (Node's native
 *   path: both are a plain `'end'`) reports `peerEnded: true` and
 *   `closeNotifyReceived: false`: the peer ended, and whether with
 *   close_notify is unknown. Where the engine can tell (the duplex path), an
 *   end without close_notify is `Truncated` instead, so `peerEnded` implies
 *   `closeNotifyReceived`.
 * - `Truncated`: the transport ended without close_notify from the peer.
 * - `Failed`: a fatal error ended the connection.
 * - `Forced`: the graceful close did not finish within the close timeout, and
 *   the transport was destroyed.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseOutcome = Data.TaggedEnum<{
  Clean: {
    readonly peerEnded: boolean
    readonly closeNotifyReceived: boolean
    readonly closeNotifySent: boolean
  }
  Truncated: {}
  Failed: { readonly error: TlsError }
  Forced: { readonly detail: string }
}>

/**
 * Constructors and matchers for {@link CloseOutcome}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const CloseOutcome = Data.taggedEnum<CloseOutcome>()
