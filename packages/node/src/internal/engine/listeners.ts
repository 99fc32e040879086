/**
 * The listeners every engine's TLSSocket shares. Each is one function for all
 * connections (`this` is the socket, its engine is found with `ownerOf`), so
 * a connection costs no closure per event; each passes what Node reported to
 * the engine and does nothing else.
 */
import type * as tls from "node:tls"
import * as NodeInternals from "./nodeInternals.ts"
import { own, ownerOf, type SocketOwner } from "./owner.ts"

/** Which of the optional events an engine follows. */
export interface ListenOptions {
  readonly role: "client" | "server"
  /** The TLSSocket dials TCP itself: report its 'connect'. */
  readonly dials: boolean
  /** Client: report the server's stapled OCSP response. */
  readonly ocsp: boolean
}

/**
 * Makes `owner` the socket's engine and attaches the listeners, the hooks on
 * Node internals included (the mode adds its own in `adopt`). Called once,
 * before Node can emit anything. Only what an engine needs: every event name
 * is a property of the socket's listener table for the socket's whole life.
 */
export const listen = (socket: tls.TLSSocket, owner: SocketOwner, options: ListenOptions): void => {
  own(socket, owner)
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.on("drain", onWake)
  socket.on("finish", onFinish)
  NodeInternals.listenTlsError(socket, options.role, onSocketError)
  socket.on("close", onClose)
  if (options.dials) socket.once("connect", onConnect)
  if (options.role === "client") {
    socket.on("secureConnect", onSecure)
    if (options.ocsp) socket.on("OCSPResponse", onOcspResponse)
    socket.on("session", onTicket)
  } else {
    NodeInternals.listenServerSecure(socket, onSecure)
  }
  // Always: a KeyUpdate is seen only as a key log line (see `keyUpdates.ts`).
  // Attaching it makes OpenSSL produce the lines; the cost is measured in the
  // observability guide.
  socket.on("keylog", onKeylog)
}

function onData(this: tls.TLSSocket, chunk: Buffer): void {
  ownerOf(this).onData(chunk)
}

function onConnect(this: tls.TLSSocket): void {
  ownerOf(this).onConnect()
}

function onEnd(this: tls.TLSSocket): void {
  ownerOf(this).onEnd()
}

function onWake(this: tls.TLSSocket): void {
  ownerOf(this).wake()
}

function onFinish(this: tls.TLSSocket): void {
  ownerOf(this).onFinish()
}

function onSocketError(this: tls.TLSSocket, error: Error): void {
  ownerOf(this).onError(error)
}

function onClose(this: tls.TLSSocket): void {
  ownerOf(this).onClose()
}

function onSecure(this: tls.TLSSocket): void {
  ownerOf(this).onSecure(this)
}

function onOcspResponse(this: tls.TLSSocket, response: Buffer): void {
  ownerOf(this).onOcspResponse(response)
}

function onTicket(this: tls.TLSSocket, session: Buffer): void {
  ownerOf(this).onTicket(this, session)
}

function onKeylog(this: tls.TLSSocket, line: Buffer): void {
  ownerOf(this).onKeylog(this, line)
}
