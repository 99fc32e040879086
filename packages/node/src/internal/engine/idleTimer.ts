/**
 * The idle timer: `idleTimeout` milliseconds without plaintext traffic on an
 * established connection fail it with a `Timeout`.
 */
import type * as tls from "node:tls"
import { Timeout, TlsTransportError } from "@effect-tls/core/TlsError"
import { ownerOf } from "./owner.ts"

/**
 * Starts (or, after a repeated handshake, restarts) the TLSSocket's timeout.
 * It starts with the established connection: the handshake has its own
 * timeout, and a stalled handshake is reported as that. Node resets the
 * timeout on every read and write of the socket.
 */
export const start = (socket: tls.TLSSocket, timeout: number | undefined): void => {
  if (timeout === undefined || timeout <= 0) return
  socket.setTimeout(timeout)
  if (socket.listenerCount("timeout", onIdle) === 0) socket.on("timeout", onIdle)
}

/** Shared by every socket (`this` is the socket). */
function onIdle(this: tls.TLSSocket): void {
  ownerOf(this).onError(
    new TlsTransportError({ reason: new Timeout({ detail: `no traffic for ${this.timeout ?? 0} ms` }) })
  )
}
