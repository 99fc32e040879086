/**
 * The core `Engine` over a node:tls `TLSSocket`, in two modes that share the
 * plaintext, event, error and session code:
 *
 * - **native**: the TLSSocket sits on a TCP socket and Node's C++ layer does the
 *   socket IO. The IO fiber never sees ciphertext; pair it with `Transport.native`.
 * - **duplex**: the TLSSocket sits on an in-memory `stream.Duplex` whose other
 *   side is this engine, so the IO fiber moves every ciphertext byte between it
 *   and any transport (STARTTLS, TLS in TLS, an Effect `Socket`).
 *
 * The modules, one concept each:
 *
 * - `socketEngine.ts`: the `Engine` methods over the TLSSocket (inbox and
 *   pausing, writes and the end, events, failure, lifecycle);
 * - `phases.ts`: the engine's states and their transitions;
 * - `mode.ts`: what the two modes differ in, and the native mode;
 * - `ciphertextDuplex.ts`: the duplex mode;
 * - `listeners.ts`, `owner.ts`: the listeners all TLSSockets share, and how
 *   they find their engine;
 * - `nodeInternals.ts`: every use of Node behaviour Node does not document;
 * - `verification.ts`: SPKI pinning and the client-certificate check;
 * - `sessionBookkeeping.ts`: the peer's chain and the session tickets;
 * - `session.ts`: the `TlsSession` read from the TLSSocket;
 * - `idleTimer.ts`: the idle timeout;
 * - `options.ts`: what an engine is made with;
 * - `fifo.ts`: the list under the inbox and the duplex's outbox.
 */
import type * as net from "node:net"
import type { Engine } from "@effect-tls/core/Engine"
import { CiphertextDuplex } from "./ciphertextDuplex.ts"
import { type DialTarget, NativeMode } from "./mode.ts"
import type { EngineExtras, EngineTlsOptions } from "./options.ts"
import { SocketEngine } from "./socketEngine.ts"

export type { DialTarget } from "./mode.ts"
export type { EngineExtras, EngineTlsOptions } from "./options.ts"

/**
 * An engine over a TLSSocket on an in-memory duplex: the IO fiber feeds it
 * ciphertext from any transport and takes the ciphertext it produces. It tells
 * close_notify from a truncated transport exactly.
 *
 * The TLSSocket is created by `start()`, so options errors surface as a
 * failure of the connection, not as a throw here.
 */
export const makeDuplexEngine = (
  role: "client" | "server",
  tlsOptions: EngineTlsOptions,
  extras: EngineExtras = {}
): Engine => new SocketEngine(role, new CiphertextDuplex(), tlsOptions, extras)

/**
 * An engine over a TLSSocket on a TCP socket: Node does the socket IO in
 * native code. Pair it with `Transport.native`. Given a connected socket, the
 * engine owns it from now on and destroys it; given a target (clients only),
 * the TLSSocket dials it when the engine starts, and the connection bounds
 * the connect by its connect timeout (`Engine.connectingTo`). A FIN and a
 * close_notify look the same here, so the inbound end is reported as `Ended`.
 */
export const makeNativeEngine = (
  role: "client" | "server",
  under: net.Socket | DialTarget,
  tlsOptions: EngineTlsOptions,
  extras: EngineExtras = {}
): Engine => new SocketEngine(role, new NativeMode(under), tlsOptions, extras)
