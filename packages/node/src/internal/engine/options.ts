/**
 * What a TLSSocket engine is made with: Node's TLS options and the engine's own.
 */
import type * as tls from "node:tls"

/**
 * What the engine adds to Node's TLS options. Read only: the engine never
 * changes them, and one object may serve many engines.
 */
export interface EngineExtras {
  /** Emit `Keylog` events (the engine follows the key log anyway: it shows the KeyUpdates). */
  readonly keylog?: boolean | undefined
  /** Calls for every keylog line (for a keylog file), in addition to the events. */
  readonly onKeylog?: ((line: Buffer) => void) | undefined
  /** Client: accept the server only if its leaf's SPKI SHA-256 (base64) is one of these. */
  readonly pinnedSpkiSha256?: ReadonlyArray<string> | undefined
  /**
   * Client: called with each session ticket (for a session cache), and the
   * server's chain as verified in the handshake that made the session.
   */
  readonly onSession?: ((session: Buffer, peerChain: ReadonlyArray<Buffer>) => void) | undefined
  /**
   * Client: the server's chain as verified when the offered session was made;
   * a resumed handshake does not verify it again, and reports this one.
   */
  readonly resumedPeerChain?: ReadonlyArray<Buffer> | undefined
  /**
   * Client: given the server's chain as verified, returns an equal chain the
   * client already holds (connections to one server then share one copy), or
   * this one.
   */
  readonly sharePeerChain?: ((chain: ReadonlyArray<Buffer>) => ReadonlyArray<Buffer>) | undefined
  /** The server name the client asked for, reported in the session (client side). */
  readonly servername?: string | undefined
  /** Milliseconds without plaintext traffic after which the connection fails with a `Timeout`. */
  readonly idleTimeout?: number | undefined
}

/**
 * Node TLS options accepted by the engines: `tls.connect` options for a
 * client, `TLSSocket` server options for a server. `socket`, `isServer` and
 * `allowHalfOpen` are set by the engine.
 */
export type EngineTlsOptions = Omit<tls.ConnectionOptions, "socket" | "port" | "path"> &
  Omit<tls.TLSSocketOptions, "isServer">
