/**
 * Transports for the duplex path on Node: the byte streams a TLS engine can
 * run over besides the native TLS socket. A TCP connection (opened here, or an
 * existing socket handed over, as for STARTTLS) and another TLS connection
 * (TLS inside TLS, as through an HTTPS proxy's CONNECT tunnel). An Effect
 * `Socket` becomes a transport with `EffectSocket.toTransport`.
 *
 * Every transport here is readiness-driven (see `@effect-tls/core/Transport`):
 * Node's callbacks only record state and wake the connection's IO fiber.
 *
 * @since 0.1.0
 */
import type * as net from "node:net"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsConfigError, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Options from "./internal/options.ts"
import * as Net from "./internal/transports/net.ts"
import * as Tunnel from "./internal/transports/tlsConnection.ts"

/**
 * Options of {@link connect}: `host` (default `localhost`) and `port` (1 to
 * 65535), `family` (4 or 6), `localAddress`, `connectTimeout` (default 10
 * seconds) and `noDelay` (default true: TLS records are already coalesced).
 * A bad one fails with `TlsConfigError` `InvalidOption`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectOptions = typeof Options.TransportConnectOptions.Encoded

/**
 * Buffer bounds of a transport that runs fibers of its own (over another TLS
 * connection or an Effect `Socket`): `readBufferBytes`, inbound bytes
 * buffered before the transport stops pulling, and `writeBufferBytes`,
 * outbound bytes buffered before it reports backpressure; each a whole
 * number of bytes, 1 or more, default 64 KiB. A bad one fails with
 * `TlsConfigError` `InvalidOption`.
 *
 * @since 0.1.0
 * @category models
 */
export type BufferOptions = typeof Options.BufferOptions.Encoded

/**
 * The default of both {@link BufferOptions}: 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBufferBytes: number = Options.defaultBufferBytes

/**
 * Opens a TCP connection within the connect timeout. The socket is destroyed
 * when the scope closes (the TLS connection over it destroys it earlier).
 * Fails with `TlsTransportError` (`ConnectionRefused`, `HostNotFound`,
 * `Timeout`, ...), or `TlsConfigError` for a port out of range or a
 * `connectTimeout` that is not a positive duration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (
  options: ConnectOptions
) => Effect.Effect<Transport, TlsTransportError | TlsConfigError, Scope.Scope> = Net.connect

/**
 * An established `node:net` socket as a transport: a socket accepted by a
 * server, or one that already spoke a plaintext prologue. The socket must be
 * in paused mode with no `'data'` listener (bytes read by someone else are
 * lost to TLS). It is switched to half-open mode, so that the peer's FIN does
 * not end our write side, and destroyed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSocket = (socket: net.Socket): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Net.NetTransport(socket)),
    (transport) => Effect.sync(() => transport.destroy())
  )

/**
 * An established TLS connection as the transport of another TLS connection
 * (TLS inside TLS). The outer connection's close_notify is the inner
 * transport's EOF; any outer failure, truncation included, breaks the inner
 * transport with a `TlsTransportError` whose cause is the outer error.
 *
 * Two fibers forked into the current scope move the bytes; the outer
 * connection keeps its own lifetime (it closes with the scope it was acquired
 * in, which should enclose this one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTlsConnection = (
  outer: TlsConnection.TlsConnection,
  options?: BufferOptions
): Effect.Effect<Transport, TlsConfigError, Scope.Scope> =>
  Effect.flatMap(Options.decodeBufferOptions(options ?? {}), (bounds) => Tunnel.make(outer, bounds))
