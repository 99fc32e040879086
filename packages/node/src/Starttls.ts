/**
 * The names of an earlier release for the two TLS upgrades, kept so that
 * programs written against them still run: `client` is
 * `NodeTls.upgradeClient` and `server` is `NodeTls.upgradeServer`, the same
 * functions (same options, same errors, same plaintext-injection check).
 * New code calls those; the plaintext prologue is `Plaintext`.
 *
 * @example
 * ```ts
 * import * as Starttls from "@effect-tls/node/Starttls"
 * import type { Transport } from "@effect-tls/core/Transport"
 *
 * declare const transport: Transport
 * declare const ca: string
 *
 * // The same as NodeTls.upgradeClient(transport, { ca, servername: "mail.example" }).
 * export const connection = Starttls.client(transport, { ca, servername: "mail.example" })
 * ```
 *
 * @since 0.1.0
 */
import * as NodeTls from "./NodeTls.ts"

/**
 * `NodeTls.upgradeClient` under its earlier name.
 *
 * @deprecated Use `NodeTls.upgradeClient`.
 * @since 0.1.0
 * @category constructors
 */
export const client: typeof NodeTls.upgradeClient = NodeTls.upgradeClient

/**
 * `NodeTls.upgradeServer` under its earlier name.
 *
 * @deprecated Use `NodeTls.upgradeServer`.
 * @since 0.1.0
 * @category constructors
 */
export const server: typeof NodeTls.upgradeServer = NodeTls.upgradeServer
