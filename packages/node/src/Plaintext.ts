/**
 * The plaintext prologue of a connection that upgrades to TLS: SMTP and IMAP
 * `STARTTLS`, PostgreSQL's `SSLRequest`, LDAP's StartTLS. Speak the prologue
 * through a {@link Plaintext} over the transport, then hand it to
 * `NodeTls.upgradeClient` or `NodeTls.upgradeServer` (or a client's or
 * server's `upgrade`), which run TLS on the duplex path.
 *
 * At the upgrade, plaintext that arrived and was not consumed by the prologue
 * fails the upgrade with `TlsHandshakeError` `PlaintextInjection` before any
 * TLS byte is sent, and the transport is destroyed: those bytes are neither
 * fed to TLS nor dropped silently (the STARTTLS command and response
 * injection attacks, CVE-2011-0411 and its kin).
 *
 * @example
 * ```ts
 * import * as NodeTls from "@effect-tls/node/NodeTls"
 * import * as NodeTransport from "@effect-tls/node/NodeTransport"
 * import * as Plaintext from "@effect-tls/node/Plaintext"
 * import * as Effect from "effect/Effect"
 *
 * declare const ca: string
 *
 * export const secured = Effect.gen(function* () {
 *   const plain = yield* Plaintext.make(yield* NodeTransport.connect({ host: "mail.example", port: 587 }))
 *   yield* plain.readLine // "220 ready"
 *   yield* plain.write("STARTTLS\r\n")
 *   yield* plain.readLine // "220 go ahead"
 *   return yield* NodeTls.upgradeClient(plain, { ca, servername: "mail.example" })
 * })
 * ```
 *
 * @since 0.1.0
 */

import type { TlsConfigError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import type * as TransportChannel from "@effect-tls/core/TransportChannel"
import type * as Effect from "effect/Effect"
import * as Internal from "./internal/plaintext.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: "~@effect-tls/node/Plaintext" = Internal.TypeId

/**
 * The plaintext side of a transport, for the prologue before the upgrade: a
 * `TransportChannel` (reads that lose nothing when interrupted, writes that
 * wait for the transport, every wait bounded by the idle timeout, `readLine`
 * for the line protocols) that the upgrades accept. Use it from one fiber at
 * a time.
 *
 * @since 0.1.0
 * @category models
 */
export interface Plaintext extends TransportChannel.TransportChannel {
  readonly [TypeId]: typeof TypeId
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = TransportChannel.Options

/**
 * Speaks plaintext over `transport` until the upgrade. The transport's waker
 * belongs to the prologue until the upgrade hands the transport to TLS. A bad
 * `idleTimeout` fails with `TlsConfigError` `InvalidOption`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (transport: Transport, options?: Options) => Effect.Effect<Plaintext, TlsConfigError> = Internal.make

/**
 * @since 0.1.0
 * @category refinements
 */
export const isPlaintext: (u: unknown) => u is Plaintext = Internal.isPlaintext
