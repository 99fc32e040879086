/**
 * Control events of a TLS connection: what happened besides application data.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { TlsSession } from "./TlsSession.ts"

/**
 * A control event. Followers of a connection's `events` receive them in order;
 * a follower that falls behind loses the oldest unread ones and is told so by
 * an `EventsDropped` event carrying the count.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsEvent = Data.TaggedEnum<{
  /** The handshake completed. */
  HandshakeDone: { readonly session: TlsSession }
  /** An alert was sent to the peer. */
  AlertSent: { readonly level: "warning" | "fatal"; readonly description: number }
  /** An alert arrived from the peer. */
  AlertReceived: { readonly level: "warning" | "fatal"; readonly description: number }
  /**
   * A KeyUpdate (TLS 1.3) was sent or received; `requested` tells whether it
   * asked the other side to answer, `undefined` where the engine cannot tell
   * (Node's engines, for a received one: they see the new keys, not the
   * message).
   */
  KeyUpdate: { readonly direction: "sent" | "received"; readonly requested: boolean | undefined }
  /** A session ticket arrived (client) and can be used to resume. */
  SessionTicket: { readonly ticket: Uint8Array }
  /** A key log line in SSLKEYLOGFILE format (only when key logging is enabled). */
  Keylog: { readonly line: string }
  /** An OCSP response stapled by the server. */
  OcspResponse: { readonly response: Uint8Array }
  /** close_notify was sent (the write half ended). */
  CloseNotifySent: {}
  /** close_notify was received (the read half ended cleanly). */
  CloseNotifyReceived: {}
  /** This follower missed `count` events because it fell behind. */
  EventsDropped: { readonly count: number }
}>

/**
 * Constructors and matchers for {@link TlsEvent}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const TlsEvent = Data.taggedEnum<TlsEvent>()
