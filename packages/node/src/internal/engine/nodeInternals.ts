/**
 * Every use the engine makes of node:tls behaviour that Node does not
 * document, and nowhere else. Each entry says what the engine relies on, why,
 * where Node does it, and what breaks if Node changes it. All of them were
 * checked on Node 24.21.0 ({@link checkedOn}, OpenSSL 3.5.8), whose
 * `lib/internal/tls/wrap.js`, `lib/internal/js_stream_socket.js`,
 * `lib/internal/stream_base_commons.js` and `lib/net.js` are the sources
 * named below. The "Node internals" tests of `test/tlsSocketEngine.test.ts`
 * fail when one of them is gone; on another Node version, read those first.
 *
 * Documented behaviour the engine relies on is not listed: `writableNeedDrain`
 * (the TLSSocket's buffer is full), `readableEnded` (set just before 'end' is
 * emitted), `socket.timeout`, `getPeerCertificate(true)` returning `{}` without
 * a certificate, and that a wrapped `stream.Duplex` is read with `_read` and
 * written with `write`.
 */
import * as net from "node:net"
import type { Duplex, DuplexOptions } from "node:stream"
import * as tls from "node:tls"
import * as Runtime from "../runtime.ts"
import { ownerOf } from "./owner.ts"

/** The Node version every entry below was checked on. */
export const checkedOn = "v24.21.0"

// -----------------------------------------------------------------------------
// OpenSSL's EOF: the TLSSocket's `push(null)`
// -----------------------------------------------------------------------------

/** `Readable.prototype.push`, which the replacement below calls on. */
const nodePush = tls.TLSSocket.prototype.push

/**
 * Has the socket's owner told (`onTlsEof`) the moment OpenSSL's EOF reaches
 * the TLSSocket, by replacing the socket's `push` with one that notes
 * `push(null)`. Node's TLSWrap read callback (`onStreamRead`,
 * stream_base_commons.js) ends the readable side with `stream.push(null)`,
 * looked up on the instance, as soon as OpenSSL reports EOF (a decrypted
 * close_notify, or the underlying stream's EOF); 'end' comes only once the
 * buffered plaintext was read, which can be much later. At that moment the
 * duplex mode can still tell which EOF it was ({@link eofFromCloseNotify}).
 *
 * If Node ends the stream another way: the hook never runs and the end is
 * decided at 'end', where a close_notify followed by the transport's EOF
 * reads as a truncation.
 */
export const trackEof = (socket: tls.TLSSocket): void => {
  socket.push = trackedPush
}

function trackedPush(this: tls.TLSSocket, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk === null) ownerOf(this).onTlsEof()
  return nodePush.call(this, chunk, encoding)
}

// -----------------------------------------------------------------------------
// The TLS shutdown: the TLSSocket's `_final`
// -----------------------------------------------------------------------------

/** `net.Socket.prototype._final`: a TLSSocket has none of its own. */
const nodeFinal = tls.TLSSocket.prototype._final

/**
 * Has the socket's owner told (`onTlsShutdown`) that the TLSSocket's TLS
 * shutdown begins, by wrapping the socket's `_final` (Writable calls
 * `stream._final` on the instance). net.Socket's `_final` (net.js) asks the
 * handle to shut down, and a TLSSocket's handle is TLSWrap, whose DoShutdown
 * (src/crypto/crypto_tls.cc) calls SSL_shutdown, writes what OpenSSL then has
 * to send (close_notify) and only then shuts the underlying stream down. So
 * the first ciphertext write the TLSSocket makes from here on carries
 * close_notify, at once or once the write in progress completed. Output
 * OpenSSL produced in between lands in that write, behind close_notify, and
 * cannot be told from it: it goes out too. Used in duplex mode only.
 *
 * If Node changes it: the hook runs at the wrong time or not at all, and
 * what OpenSSL writes after our close_notify (the answer to a KeyUpdate) is
 * no longer dropped; written to the ended duplex, it fails the connection
 * with ERR_STREAM_WRITE_AFTER_END (test/interop-keyupdate-after-close.test.ts).
 */
export const trackShutdown = (socket: tls.TLSSocket): void => {
  socket._final = trackedFinal
}

function trackedFinal(this: tls.TLSSocket, callback: (error?: Error | null) => void): void {
  ownerOf(this).onTlsShutdown()
  nodeFinal.call(this, callback)
}

// -----------------------------------------------------------------------------
// Events a TLSSocket made with `new tls.TLSSocket` emits
// -----------------------------------------------------------------------------

/**
 * Listens for a TLSSocket's errors under the one name that carries all of
 * them for its role. A TLSSocket made for a server with `new tls.TLSSocket`
 * never "releases control" (`TLSSocket.prototype._releaseControl` in wrap.js
 * is called by `tls.connect` and by a tls.Server only), so its TLS errors
 * come only as '_tlsError' (`TLSSocket.prototype._tlsError`), and its other
 * errors ('error': the TCP socket's, `destroy(error)`) are passed on as
 * '_tlsError' too, by the `_tlsError` listener its constructor attaches to
 * 'error' (which also keeps an 'error' without our listener from throwing).
 * A client's control is released in `tls.connect`, before any IO: every
 * error comes as 'error' (a TLS one as '_tlsError' first, then 'error').
 * One listener name each, instead of both: each name is an entry of the
 * socket's listener table for the connection's whole life.
 *
 * If Node renames '_tlsError': a server's TLS failure reaches the engine only
 * as 'close', and is reported as a reset connection instead of its reason
 * (test/errors.test.ts, server side). If Node stops passing a server's
 * 'error' on: a server's TCP error is reported at 'close' as a reset.
 */
export const listenTlsError = (
  socket: tls.TLSSocket,
  role: "client" | "server",
  listener: (this: tls.TLSSocket, error: Error) => void
): void => {
  socket.on(role === "client" ? "error" : "_tlsError", listener)
}

/**
 * Listens for the end of a server TLSSocket's handshake. Node documents
 * 'secureConnect' for a client and 'secureConnection' on a tls.Server; a
 * TLSSocket made with `new tls.TLSSocket(socket, { isServer: true })` emits
 * only 'secure' (`TLSSocket.prototype._finishInit` in wrap.js), an event the
 * documentation names only for the removed SecurePair and for the callback
 * of `renegotiate`.
 *
 * If Node stops emitting it: no server handshake completes; each fails by
 * the handshake timeout.
 */
export const listenServerSecure = (socket: tls.TLSSocket, listener: (this: tls.TLSSocket) => void): void => {
  socket.on("secure", listener)
}

// -----------------------------------------------------------------------------
// The client's chain: `ssl.verifyError()`
// -----------------------------------------------------------------------------

/** What a TLSSocket holds that its typings do not show: the TLSWrap handle, null once closed. */
interface WithTlsWrap {
  readonly ssl?: { readonly verifyError?: unknown } | null
}

/**
 * The outcome of OpenSSL's verification of the peer's chain: `null` when it
 * verified, else an Error with OpenSSL's X509 code (`UNABLE_TO_GET_ISSUER_CERT`
 * ...). A tls.Server checks a client's chain with it after the handshake
 * (`onServerSocketSecure` in wrap.js: OpenSSL is told to accept any chain);
 * outside a tls.Server that check is the engine's. `socket.ssl` is the
 * TLSWrap handle ("proxy for API compatibility" in wrap.js) and `verifyError`
 * a method of it; neither is documented. A socket whose handle is gone
 * (closed) reports `null`, as Node's own check would find nothing to reject.
 *
 * If Node removes the method: this returns an error, so a server that asks
 * for client certificates rejects every client (it fails closed) instead of
 * accepting unverified ones.
 */
export const verifyError = (socket: tls.TLSSocket): Error | null => {
  // The cast reaches `ssl`, which the typings leave out; what it holds is checked before use.
  const handle = (socket as unknown as WithTlsWrap).ssl
  if (handle === undefined || handle === null) return null
  const method = handle.verifyError
  if (typeof method !== "function") {
    return new Error(`node:tls no longer has ssl.verifyError() (checked on Node ${checkedOn}): see nodeInternals.ts`)
  }
  const result: unknown = method.call(handle)
  if (result === null || result === undefined) return null
  return result instanceof Error ? result : new Error(String(result))
}

// -----------------------------------------------------------------------------
// The server's chain: the certificate `checkServerIdentity` is given
// -----------------------------------------------------------------------------

/**
 * The certificate Node passes to a client's `checkServerIdentity`, as what it
 * is: Node's detailed view (`getPeerCertificate(true)` in `onConnectSecure`,
 * wrap.js), with the `issuerCertificate` links of the chain it verified,
 * though the documentation says only "a certificate object". The engine keeps
 * that chain instead of asking Node to build it a second time.
 *
 * If Node passes the plain view: the chain kept has the leaf only (the
 * duplex handshake test of test/tlsSocketEngine.test.ts counts three).
 */
export const detailedView = (certificate: tls.PeerCertificate): Partial<tls.DetailedPeerCertificate> => certificate

// -----------------------------------------------------------------------------
// The server's sessions by ID: the TLSSocket's `server`
// -----------------------------------------------------------------------------

/**
 * The object a server TLSSocket reports its sessions to, given as its
 * `server` option (documented as "a net.Server instance"; this one never
 * listens): Node's TLSSocket emits `newSession` and `resumeSession`, which
 * Node documents for a tls.Server only, on `options.server`
 * (`onnewsession` and `loadSession` in wrap.js), and turns OpenSSL's session
 * callbacks on only when one of them has a listener (`_init`). `onNew` gets
 * each session OpenSSL made, `onResume` the ID a client offers (no call for
 * a client with a ticket); both answer at once, so no handshake waits for
 * them. The other uses wrap.js makes of `server` (`_sharedCreds` for a
 * stapled OCSP response, `_contexts` for its default SNI callback) find
 * nothing on a net.Server and are skipped, as wrap.js expects ("TLS socket
 * is using a net.Server instead of a tls.TLSServer").
 *
 * If Node stops emitting them there: sessions by ID never resume again (the
 * session-ID tests of test/session-id-cache.test.ts fail), nothing else.
 */
export const sessionStore = (
  onNew: (id: Buffer, session: Buffer) => void,
  onResume: (id: Buffer) => Buffer | undefined
): net.Server => {
  const store = new net.Server()
  store.on("newSession", (id: Buffer, session: Buffer, done: () => void) => {
    onNew(id, session)
    done()
  })
  store.on("resumeSession", (id: Buffer, callback: (error: Error | null, session: Buffer | null) => void) => {
    callback(null, onResume(id) ?? null)
  })
  return store
}

// -----------------------------------------------------------------------------
// The TCP socket under a native TLSSocket
// -----------------------------------------------------------------------------

/**
 * Removes the guard 'error' listener of a TCP socket once a TLSSocket wraps
 * it. A TLSSocket made on a connected net.Socket listens for that socket's
 * errors itself and emits them as its own (`TLSSocket.prototype._init` in
 * wrap.js: `wrap.on('error', ...)`), which Node does not document. The guard
 * goes only when another listener is there, so on a Node without that
 * listener a TCP error stays guarded (the engine then sees the TLSSocket's
 * 'close') rather than crashing the process.
 */
export const releaseErrorGuard = (tcp: net.Socket, guard: (error: Error) => void): void => {
  if (tcp.listenerCount("error") > tcp.listenerCount("error", guard)) tcp.off("error", guard)
}

// -----------------------------------------------------------------------------
// When a TLSSocket's output has left it
// -----------------------------------------------------------------------------

/**
 * Whether plaintext written to the TLSSocket has not yet left it as
 * ciphertext. `writableLength` counts a write until its callback, and TLSWrap
 * completes a write only once the ciphertext it made was written to the
 * underlying stream (TLSWrap::OnStreamAfterWrite), an order Node does not
 * document. In duplex mode that is once the IO fiber took the ciphertext (the
 * duplex holds the write's callback until then).
 *
 * If Node completes writes earlier: a flush, and the FIN after close_notify,
 * may complete while ciphertext is still inside Node.
 */
export const hasPendingOutput = (socket: tls.TLSSocket): boolean => socket.writableLength > 0

const EMPTY_WRITE = Buffer.alloc(0)

/**
 * Whether {@link afterPendingOutput} tells when a native TLSSocket's pending
 * output has left: on Node, where an empty write completes only after the
 * writes before it (Writable completes writes one at a time, in order, and
 * TLSWrap completes an empty write once the underlying stream took what it
 * wrote: `TLSWrap::DoWrite`, src/crypto/crypto_tls.cc). Deno fails an empty
 * write (see {@link endAfterPendingOutput}); on Bun the engine does not rely on it.
 *
 * Without it a native engine passes a callback with every write, which costs a
 * tick per write (`onwrite` in lib/internal/streams/writable.js schedules
 * `afterWriteTick` for a write completed synchronously that has one).
 */
export const emptyWriteTellsOutput: boolean = Runtime.current.name === "node"

/**
 * Calls `callback` once every write made to the TLSSocket before this call
 * has left it (see {@link emptyWriteTellsOutput}), by writing nothing after
 * them. The TLSSocket must still be writable (not ended).
 *
 * If Node changes it: a flush waiting on a peer that reads slowly completes
 * late or, if the callback comes early, steps again and asks again
 * (test/tlsSocketEngine.test.ts, "an empty write completes after the writes before it").
 */
export const afterPendingOutput = (socket: tls.TLSSocket, callback: () => void): void => {
  socket.write(EMPTY_WRITE, callback)
}

/**
 * Ends the TLSSocket (close_notify, then, native, the TCP FIN) once its
 * pending TLS output is written. `end()` alone does not wait for it: Node
 * requests the TCP shutdown while TLSWrap may still be writing (a client's
 * Finished, written just after 'secureConnect'), and that output is then lost:
 * the server sees a FIN in the handshake. An empty write completes only after
 * TLSWrap's pending output, like any write (see {@link hasPendingOutput}), so
 * the end waits for it.
 *
 * If Node changes it: a client that ends its write half right after the
 * handshake may lose its Finished (test/halfclose-stress.test.ts).
 *
 * Deno (checked on 2.9.6) fails an empty write on a TLSSocket with EPERM and
 * errors the socket, so there the end is requested at once: Deno's TLS layer
 * (rustls) writes its handshake output itself, before the end it is asked for
 * (the half-close tests of the conformance suite, run on Deno, check it).
 */
export const endAfterPendingOutput = (socket: tls.TLSSocket): void => {
  if (Runtime.current.name === "deno") {
    socket.end()
    return
  }
  afterPendingOutput(socket, () => {
    if (!socket.destroyed) socket.end()
  })
}

// -----------------------------------------------------------------------------
// The duplex under a duplex-mode TLSSocket: JSStreamSocket
// -----------------------------------------------------------------------------
//
// Node puts a TLSSocket on a stream that is not a net.Socket through a
// JSStreamSocket (js_stream_socket.js), a fake socket that reads the stream
// with 'data', writes it with `write` and ends it with `end`. The duplex mode
// relies on four things it does.

/**
 * The options of the duplex. JSStreamSocket destroys itself, and the
 * TLSSocket with it, on the stream's 'close'. With `autoDestroy`, Node would
 * destroy the duplex as soon as both of its sides are done (the transport's
 * EOF read, close_notify written), discarding plaintext the TLSSocket still
 * buffers while it is paused. Without it the duplex is destroyed only with
 * the TLSSocket (JSStreamSocket's `doClose` destroys the stream, and a
 * graceful end closes the TLSSocket only after its last 'data') or by the
 * engine.
 *
 * If Node stops wrapping this way: the duplex mode does not work at all. If
 * JSStreamSocket stops destroying on 'close', nothing breaks.
 */
export const duplexOptions: DuplexOptions = { allowHalfOpen: true, decodeStrings: true, autoDestroy: false }

/**
 * Whether the EOF OpenSSL reports now came from close_notify. JSStreamSocket
 * hands the stream's EOF to OpenSSL only on the stream's 'end'
 * (`stream.once('end', ...)`, then `emitEOF`), and `readableEnded` is set just
 * before 'end' is emitted; OpenSSL reports a close_notify's EOF as it
 * decrypts the 'data' that carried it, which comes before the stream's 'end'.
 * So an EOF reported while `readableEnded` is false was a close_notify, and
 * one reported after it is the transport's EOF without one.
 *
 * If JSStreamSocket hands the EOF over earlier (on `push(null)`): a truncation
 * reads as close_notify (test/tlsSocketEngine.test.ts, "truncation").
 */
export const eofFromCloseNotify = (duplex: Duplex): boolean => !duplex.readableEnded

/**
 * Runs `f(a)` once the TLSWrap write now being made has been written to the
 * duplex in full. JSStreamSocket writes every buffer of one TLSWrap write in
 * one synchronous run (`doWrite`: cork, write each, uncork) and reports it
 * complete in a setImmediate (`finishWrite`), before which TLSWrap makes no
 * other write; so the next tick falls between the two writes.
 *
 * If JSStreamSocket spreads one write over ticks: the duplex drops the rest
 * of the write that carries close_notify.
 */
export const afterCurrentWrite = <A>(f: (a: A) => void, a: A): void => {
  process.nextTick(f, a)
}

/**
 * Whether a duplex-mode TLSSocket's 'finish' marks its output complete,
 * close_notify included. On Deno (checked on 2.9.6) the TLSSocket writes
 * close_notify to the stream it sits on and then emits 'finish', but never
 * ends that stream, so the duplex's `_final` (the fourth use below) never
 * runs and an end would wait for it forever. On Node and Bun, `_final` is
 * the signal.
 */
export const finishEndsOutput: boolean = Runtime.current.name === "deno"

/*
 * The fourth is used without a call of its own: JSStreamSocket's `doShutdown`
 * waits for the write in progress (the one with close_notify) and then ends
 * the stream (`stream.end`), so the duplex's `_final` runs once the TLSSocket
 * wrote everything it will; the duplex mode reports close_notify handed on at
 * that point (`CiphertextDuplex._final`). If Node ended the stream before
 * that write, the duplex would drop close_notify as a write after its end.
 */
