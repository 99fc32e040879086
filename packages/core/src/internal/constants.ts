/**
 * The sizes the connection is built around, in one place.
 */

import { recordPlaintextBytes } from "../Engine.ts"

/** The most plaintext one TLS record carries (RFC 8446 section 5.1). */
export const RECORD_PLAINTEXT_BYTES = recordPlaintextBytes

/**
 * The largest TLS record on the wire: the 5-byte header, 2^14 bytes and the
 * most expansion RFC 8446 allows (256).
 */
export const RECORD_CIPHERTEXT_BYTES = 5 + RECORD_PLAINTEXT_BYTES + 256

/**
 * Writes shorter than this, waiting together, are joined into one piece: of at
 * most a record for an engine that takes records, of up to the outbox's room
 * for one that cuts its records (`Engine.cutsRecords`), of everything buffered
 * for a native engine.
 */
export const COALESCE_BELOW_BYTES = 4 * 1024

/** Rounds of moving data in one step of the IO fiber before it yields to the application fibers. */
export const MAX_ROUNDS_PER_STEP = 64

/** Steps the IO fiber runs back to back for wake-ups raised while it stepped, before it sleeps. */
export const STEPS_PER_WAKE = 8

/** The default size of the read, write and control buffers. */
export const DEFAULT_BUFFER_BYTES = 64 * 1024

/** How far `readUntil` looks for its delimiter unless told otherwise. */
export const DEFAULT_FRAME_BYTES = 64 * 1024

/** Events kept for each follower of a connection's events, and replayed to new ones. */
export const DEFAULT_EVENT_BUFFER = 64
