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

/** One per engine; called from Node's callbacks only (the handshake's identity check, 'secure', 'session'). */
export class SessionBookkeeping {
  private readonly role: "client" | "server"
  private readonly requestCert: boolean
  private readonly extras: EngineExtras
  /**
   * The DER of the peer's chain as verified: written by `noteVerifiedChain`
   * (a client's full handshake) or by the first `peerChain` that asks Node;
   * read by `peerChain`.
   */
  private verified: ReadonlyArray<Buffer> | undefined = undefined

  constructor(role: "client" | "server", tlsOptions: EngineTlsOptions, extras: EngineExtras) {
    this.role = role
    this.requestCert = tlsOptions.requestCert === true
    this.extras = extras
  }

  /**
   * Keeps the chain Node built for the client's hostname check (full
   * handshakes), instead of building it a second time for the session.
   */
  noteVerifiedChain(certificate: tls.PeerCertificate): void {
    this.verified = this.shared(chainDer(NodeInternals.detailedView(certificate)))
  }

  /**
   * The peer's chain as verified: what Node built for the hostname check, or
   * for a resumed session the chain verified when it was made; a server that
   * asked for no client certificate has none; otherwise Node is asked.
   */
  peerChain(socket: tls.TLSSocket): ReadonlyArray<Buffer> {
    if (this.verified !== undefined) return this.verified
    if (this.role === "client" && socket.isSessionReused() && this.extras.resumedPeerChain !== undefined) {
      return this.extras.resumedPeerChain
    }
    if (this.role === "server" && !this.requestCert) return []
    // Node returns an empty object when the peer sent no certificate.
    this.verified = this.shared(chainDer(socket.getPeerCertificate(true)))
    return this.verified
  }

  /**
   * A client's session ticket: one copy serves its event and the session
   * cache. Node's Buffer is a slice of a 64 KiB slab that other tickets
   * share, so keeping it (in the event history, for the connection's life,
   * or in the cache) would keep the whole slab; the copy has its own memory
   * of exactly the ticket's size.
   */
  ticket(socket: tls.TLSSocket, session: Buffer): Uint8Array {
    const ticket = new Uint8Array(session)
    const onSession = this.extras.onSession
    if (onSession !== undefined) onSession(Buffer.from(ticket.buffer, 0, ticket.byteLength), this.peerChain(socket))
    return ticket
  }

  private shared(chain: ReadonlyArray<Buffer>): ReadonlyArray<Buffer> {
    const share = this.extras.sharePeerChain
    return share === undefined || chain.length === 0 ? chain : share(chain)
  }
}
