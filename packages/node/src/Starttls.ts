/**
 * TLS over a transport that is already open: STARTTLS after a plaintext
 * prologue (SMTP `STARTTLS`, IMAP, the PostgreSQL `SSLRequest`, ...), or TLS
 * over any transport from the first byte (an Effect `Socket`, another TLS
 * connection). This is the engine path: a node:tls `TLSSocket` over an
 * in-memory duplex, driven by the connection's IO fiber, which sees every
 * byte, so a transport EOF without close_notify is reported as truncation.
 *
 * The prologue is spoken through a {@link Plaintext} channel. At the upgrade,
 * plaintext that arrived after the upgrade point but was not consumed by the
 * prologue fails the upgrade with `TlsHandshakeError` `PlaintextInjection`:
 * it is never fed to TLS nor dropped silently (the STARTTLS command and
 * response injection attacks, CVE-2011-0411 and its kin).
 *
 * ```ts
 * import * as NodeTransport from "@effect-tls/node/NodeTransport"
 * import * as Starttls from "@effect-tls/node/Starttls"
 * import * as Effect from "effect/Effect"
 *
 * declare const ca: string
 *
 * export const secured = Effect.gen(function* () {
 *   const transport = yield* NodeTransport.connect({ host: "mail.example", port: 587 })
 *   const plain = Starttls.plaintext(transport)
 *   yield* plain.readLine // "220 ready"
 *   yield* plain.write("STARTTLS\r\n")
 *   yield* plain.readLine // "220 go ahead"
 *   return yield* Starttls.client(plain, { ca, servername: "mail.example" })
 * })
 * ```
 *
 * @since 0.1.0
 */

import type { TlsConnection } from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { noStack } from "./internal/spans.ts"
import * as Internal from "./internal/transports/plaintext.ts"
import * as NodeTlsClient from "./NodeTlsClient.ts"
import * as NodeTlsServer from "./NodeTlsServer.ts"
import type * as TlsOptions from "./TlsOptions.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const PlaintextTypeId: "~@effect-tls/node/Starttls/Plaintext" = Internal.PlaintextTypeId

/**
 * The plaintext side of a transport, for the prologue before the upgrade.
 * Use it from one fiber at a time. Every wait is bounded by the idle timeout
 * (`TlsTransportError` `Timeout`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Plaintext {
  readonly [PlaintextTypeId]: typeof PlaintextTypeId
  /**
   * The transport under it, handed to TLS by {@link client}, {@link server},
   * or a client's or server's `upgrade`.
   */
  readonly transport: Transport
  /** The next bytes, or `None` at the end of the stream. */
  readonly read: Effect.Effect<Option.Option<Uint8Array>, TlsError>
  /** Exactly `n` bytes (`TlsStateError` `EndOfStream` if the stream ends first). */
  readonly readExactly: (n: number) => Effect.Effect<Uint8Array, TlsError>
  /**
   * The bytes before the next `delimiter`, which is consumed
   * (`TlsStateError` `FrameTooLong` past `maxBytes`, default 8 KiB).
   */
  readonly readUntil: (
    delimiter: Uint8Array | string,
    options?: { readonly maxBytes?: number | undefined }
  ) => Effect.Effect<Uint8Array, TlsError>
  /** The next line without its CRLF (or LF), decoded as UTF-8; at most 8 KiB. */
  readonly readLine: Effect.Effect<string, TlsError>
  /** Writes, then waits while the transport reports backpressure. */
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, TlsError>
  /** Bytes received and not consumed yet: at the upgrade they must be none. */
  readonly buffered: Effect.Effect<number>
}

/**
 * Options of {@link plaintext}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlaintextOptions {
  /** Bound on each wait for the peer during the prologue. Default 30 seconds. */
  readonly idleTimeout?: Duration.Input | undefined
}

/**
 * Options of {@link client}: the client options of the native path, plus the
 * host the transport leads to (the default SNI name and the name the
 * certificate must match, unless `servername` is given).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends TlsOptions.ClientOptions {
  /** Default: `servername`, else `localhost`. */
  readonly host?: string | undefined
}

/**
 * Options of {@link server}: the server options of the native path, without
 * those of a listener.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerOptions = TlsOptions.ServerConnectionOptions

const decoder = new TextDecoder()

/**
 * Speaks plaintext over `transport` until the upgrade. The transport's waker
 * belongs to the channel until {@link client} or {@link server} hands the transport to TLS.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plaintext = (transport: Transport, options?: PlaintextOptions): Plaintext => {
  const channel = new Internal.PlaintextChannel(
    transport,
    Duration.fromInputUnsafe(options?.idleTimeout ?? "30 seconds")
  )
  const handle: Plaintext & { readonly channel: Internal.PlaintextChannel } = {
    [PlaintextTypeId]: PlaintextTypeId,
    channel,
    transport,
    read: channel.read,
    readExactly: (n) => channel.readExactly(n),
    readUntil: (delimiter, opts) => channel.readUntil(delimiter, opts?.maxBytes ?? 8 * 1024),
    readLine: Effect.map(channel.readUntil("\n", 8 * 1024), (line) => {
      const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length
      return decoder.decode(line.subarray(0, end))
    }),
    write: (chunk) => channel.write(chunk),
    buffered: Effect.sync(() => channel.buffered)
  }
  return handle
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isPlaintext: (u: unknown) => u is Plaintext = Internal.isPlaintext

/**
 * Runs TLS in the client role over `over` and returns the established
 * connection, acquired in the current scope. Pass a {@link Plaintext} after a
 * prologue: if it holds unconsumed bytes, the upgrade fails with
 * `TlsHandshakeError` `PlaintextInjection` and the transport is destroyed
 * before any TLS byte is sent. Pass a bare transport to speak TLS from its
 * first byte (an Effect `Socket`, another TLS connection).
 *
 * Handshake failures are typed (`TlsHandshakeError` by reason); the handshake
 * and the graceful close are bounded by the connection's timeouts.
 *
 * This builds a SecureContext from `options` for this one connection and
 * keeps no session. For many connections with one configuration, make a
 * client once (`NodeTlsClient.make`, or its layer) and call its `upgrade`
 * with the same `over`: the context is shared and sessions resume.
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (
  over: Transport | Plaintext,
  options: ClientOptions
): Effect.Effect<TlsConnection, TlsError, Scope.Scope> =>
  NodeTlsClient.make({ ...options, sessionCache: false }).pipe(
    Effect.tapError(() => Effect.sync(() => Internal.transportOf(over).destroy())),
    Effect.flatMap((tlsClient) => tlsClient.upgrade(over, { host: options.host })),
    Effect.withSpan("Starttls.client", undefined, noStack)
  )

/**
 * Runs TLS in the server role over `over` (see {@link client} for the
 * injection check and the bounds). Certificates per SNI name (`sni`) are
 * served, and `resolveSni` is consulted for other names.
 *
 * This builds the SecureContexts from `options` for this one connection, so
 * no ticket it issues can be resumed. For many connections, make an acceptor
 * once (`NodeTlsServer.makeAcceptor`) and call its `upgrade`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const server = (
  over: Transport | Plaintext,
  options: ServerOptions
): Effect.Effect<TlsConnection, TlsError, Scope.Scope> =>
  NodeTlsServer.makeAcceptor(options).pipe(
    Effect.tapError(() => Effect.sync(() => Internal.transportOf(over).destroy())),
    Effect.flatMap((acceptor) => acceptor.upgrade(over)),
    Effect.withSpan("Starttls.server", undefined, noStack)
  )

/**
 * Options of {@link upgrade}: those of {@link client} or {@link server},
 * tagged with the role.
 *
 * @since 0.1.0
 * @category models
 */
export type UpgradeOptions =
  | ({ readonly role: "client" } & ClientOptions)
  | ({ readonly role: "server" } & ServerOptions)

/**
 * {@link client} or {@link server}, by `options.role`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const upgrade = (
  over: Transport | Plaintext,
  options: UpgradeOptions
): Effect.Effect<TlsConnection, TlsError, Scope.Scope> => {
  if (options.role === "client") {
    const { role: _, ...rest } = options
    return client(over, rest)
  }
  const { role: _, ...rest } = options
  return server(over, rest)
}
