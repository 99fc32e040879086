/**
 * How a TLS connection ended.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { TlsError } from "./TlsError.ts"

/**
 * - `Clean`: no error; `closeNotifyReceived` tells whether the peer ended its
 *   side with close_notify (false when the connection was closed locally
 *   first), `closeNotifySent` whether ours went out.
 * - `Truncated`: the transport ended without close_notify from the peer.
 * - `Failed`: a fatal error ended the connection.
 * - `Forced`: the graceful close did not finish within the close timeout, and
 *   the transport was destroyed.
 *
 * @since 0.1.0
 * @category models
 */
export type CloseOutcome = Data.TaggedEnum<{
  Clean: { readonly closeNotifyReceived: boolean; readonly closeNotifySent: boolean }
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
