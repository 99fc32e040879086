/**
 * A server's cache of TLS 1.2 sessions by session ID, for the clients that
 * resume without a ticket (curl 7.88, `openssl s_client -no_ticket`, older
 * Java). Node's SecureContext turns OpenSSL's own server cache off and hands
 * each new session to the server's `newSession` listener, asking for it again
 * by ID in `resumeSession` (see `NodeInternals.sessionStore`); without a
 * store, such a client never resumes.
 *
 * Invariants: at most `maxEntries` sessions, the least recently stored or
 * resumed one evicted first (Map order is insertion order, and both re-insert);
 * an entry is never handed out after `lifetimeMillis` from its storing (the
 * sessions' lifetime in OpenSSL, which bounds tickets too), and expired
 * entries met on the way are dropped. One cache serves one generation of
 * contexts: a reload makes new contexts (new ticket keys) and a new cache,
 * so what the old ones made resumes by neither route. TLS 1.3 sessions are
 * not kept: a TLS 1.3 client resumes with a ticket, never by session ID,
 * and OpenSSL reports two per handshake, which would evict the TLS 1.2 ones.
 */

/** Sessions kept per server configuration, by default. */
export const DEFAULT_MAX_ENTRIES = 1024

interface Entry {
  readonly session: Buffer
  readonly expires: number
}

export class SessionIdCache {
  private readonly entries = new Map<string, Entry>()
  private readonly maxEntries: number
  private readonly lifetimeMillis: number
  private readonly now: () => number

  constructor(maxEntries: number, lifetimeMillis: number, now: () => number = Date.now) {
    this.maxEntries = maxEntries
    this.lifetimeMillis = lifetimeMillis
    this.now = now
  }

  get size(): number {
    return this.entries.size
  }

  /** Keeps a new session under its ID, unless it is a TLS 1.3 one. */
  store(id: Buffer, session: Buffer): void {
    if (isTls13Session(session)) return
    const key = id.toString("hex")
    this.entries.delete(key)
    this.entries.set(key, { session, expires: this.now() + this.lifetimeMillis })
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (oldest.done === true) break
      this.entries.delete(oldest.value)
    }
  }

  /** The session stored under `id`, while it lives; resuming it makes it the most recent. */
  lookup(id: Buffer): Buffer | undefined {
    const key = id.toString("hex")
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    this.entries.delete(key)
    if (entry.expires <= this.now()) return undefined
    this.entries.set(key, entry)
    return entry.session
  }
}

/**
 * Whether OpenSSL's encoding of a session (`i2d_SSL_SESSION`, DER) is of a
 * TLS 1.3 session: a SEQUENCE whose first two INTEGERs are the format's
 * version (1) and the protocol (0x0304). Anything else, an encoding not
 * understood included, is kept (a wasted entry at worst).
 */
export const isTls13Session = (der: Buffer): boolean => {
  if (der.length < 4 || der[0] !== 0x30) return false
  const first = der[1] ?? 0
  // The SEQUENCE's length: short form, or the number of length bytes that follow.
  const offset = first < 0x80 ? 2 : 2 + (first & 0x7f)
  const expected = [0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x04]
  return expected.every((byte, i) => der[offset + i] === byte)
}
