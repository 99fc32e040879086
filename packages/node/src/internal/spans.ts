/**
 * Span options shared by the per-connection spans.
 */

/**
 * Spans opened once per connection record no call-site stack: capturing one
 * would be work on every handshake for a frame nobody reads.
 */
export const noStack = { captureStackTrace: false } as const
