/**
 * What an engine keeps of its session beyond the TLSSocket: the peer's chain
 * as verified (shared between connections to one server, carried over to a
 * resumed session) and the session tickets handed to the session cache.
 */
import type * as tls from "node:tls"
import * as NodeInternals from "./nodeInternals.ts"
import type { EngineExtras, EngineTlsOptions } from "./options.ts"

/**
 * The DER of each certificate of Node's detailed view of a chain, leaf first
 * (at most 10 links, cycles cut). Only the DER is kept: the detailed view
 * holds kilobytes of strings per certificate, for as long as the connection.
 */
export const chainDer = (detailed: Partial<tls.DetailedPeerCertificate> | undefined): ReadonlyArray<Buffer> => {
  const ders: Array<Buffer> = []
  const seen = new Set<string>()
  let current = detailed
  while (current?.raw !== undefined && ders.length < 10 && !seen.has(current.fingerprint256 ?? "")) {
    seen.add(current.fingerprint256 ?? "")
    ders.push(current.raw)
    current = current.issuerCertificate
  }
  return ders
}

/** A server that asked for no client certificate has no peer chain: every such session shares this one. */
const noChain: ReadonlyArray<Buffer> = Object.freeze([])

/**
 * What the bookkeeping reads of its engine, and the one field it keeps
 * there: the engine is the holder, so a connection costs no object for it.
 * Called from Node's callbacks only (the handshake's identity check,
 * 'secure', 'session').
 */
export interface SessionHolder {
  readonly role: "client" | "server"
  readonly tlsOptions: EngineTlsOptions
  readonly extras: EngineExtras
  /**
   * The DER of the peer's chain as verified: written by `noteVerifiedChain`
   * (a client's full handshake) or by the first `peerChain` that asks Node;
   * read by `peerChain`.
   */
  verifiedChain: ReadonlyArray<Buffer> | undefined
}

/**
 * Keeps the chain Node built for the client's hostname check (full
 * handshakes), instead of building it a second time for the session.
 */
export const noteVerifiedChain = (holder: SessionHolder, certificate: tls.PeerCertificate): void => {
  holder.verifiedChain = shared(holder, chainDer(NodeInternals.detailedView(certificate)))
}

/**
 * The peer's chain as verified: what Node built for the hostname check, or
 * for a resumed session the chain verified when it was made; a server that
 * asked for no client certificate has none; otherwise Node is asked.
 */
export const peerChain = (holder: SessionHolder, socket: tls.TLSSocket): ReadonlyArray<Buffer> => {
  if (holder.verifiedChain !== undefined) return holder.verifiedChain
  if (holder.role === "client" && socket.isSessionReused() && holder.extras.resumedPeerChain !== undefined) {
    return holder.extras.resumedPeerChain
  }
  if (holder.role === "server" && holder.tlsOptions.requestCert !== true) return noChain
  // Node returns an empty object when the peer sent no certificate.
  holder.verifiedChain = shared(holder, chainDer(socket.getPeerCertificate(true)))
  return holder.verifiedChain
}

/**
 * A client's session ticket: one copy serves its event and the session
 * cache. Node's Buffer is a slice of a 64 KiB slab that other tickets
 * share, so keeping it (in the event history, for the connection's life,
 * or in the cache) would keep the whole slab; the copy has its own memory
 * of exactly the ticket's size.
 */
export const ticket = (holder: SessionHolder, socket: tls.TLSSocket, session: Buffer): Uint8Array => {
  const copy = new Uint8Array(session)
  const onSession = holder.extras.onSession
  if (onSession !== undefined) onSession(Buffer.from(copy.buffer, 0, copy.byteLength), peerChain(holder, socket))
  return copy
}

const shared = (holder: SessionHolder, chain: ReadonlyArray<Buffer>): ReadonlyArray<Buffer> => {
  const share = holder.extras.sharePeerChain
  return share === undefined || chain.length === 0 ? chain : share(chain)
}
