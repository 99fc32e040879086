/**
 * Span options shared by the per-connection spans.
 */

/**
 * Spans opened once per connection record no call-site stack: capturing one
 * costs more than a resumed handshake.
 */
export const noStack = { captureStackTrace: false } as const
