/**
 * A connected client/server pair of TLS connections over the in-memory
 * transport pair, in one line, for tests of protocols built on effect-tls.
 *
 * By default both sides run the scripted engine (no cryptography, fully
 * deterministic); pass `connect` to run real TLS instead, for example
 * `NodeTls.upgradeClient` and `NodeTls.upgradeServer` from `@effect-tls/node` with
 * credentials from `CertificateAuthority`. Both handshakes are done when
 * the pair is returned; the scope closes both connections.
 *
 * @example
 * ```ts
 * import * as TestPair from "@effect-tls/test/TestPair"
 * import * as Effect from "effect/Effect"
 *
 * export const echoOnce = Effect.scoped(
 *   Effect.gen(function* () {
 *     const { client, server } = yield* TestPair.make()
 *     yield* client.writer.write("ping")
 *     return yield* server.reader.readExactly(4)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as MemoryTransport from "./MemoryTransport.ts"
import * as ScriptedEngine from "./ScriptedEngine.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface TestPair {
  readonly client: TlsConnection.TlsConnection
  readonly server: TlsConnection.TlsConnection
  /** Manual control of the wire between them (`aToB` is client to server). */
  readonly wire: MemoryTransport.Control
}

/**
 * Runs one side of TLS over its transport, with the connection options given
 * for that side, in the scope of the pair.
 *
 * @since 0.1.0
 * @category models
 */
export type Connect = (
  transport: Transport,
  options: TlsConnection.ConnectionOptions | undefined
) => Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Connection options of the client side (buffer sizes, timeouts). */
  readonly client?: TlsConnection.ConnectionOptions | undefined
  /** Connection options of the server side. */
  readonly server?: TlsConnection.ConnectionOptions | undefined
  /** Bytes buffered per direction of the wire (see `MemoryTransport.Options`). */
  readonly capacity?: number | undefined
  /** How each side runs TLS over its transport. Default: the scripted engine. */
  readonly connect?: { readonly client: Connect; readonly server: Connect } | undefined
}

/**
 * The pair as a service, for a `Layer` shared by the tests of a block.
 *
 * @since 0.1.0
 * @category services
 */
export class Current extends Context.Service<Current, TestPair>()("@effect-tls/test/TestPair/Current") {}

const scripted =
  (role: "client" | "server"): Connect =>
  (transport, options) =>
    TlsConnection.make({ engine: ScriptedEngine.make({ role }), transport, options })

/**
 * Makes a connected pair; both handshakes are done when it returns.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<TestPair, TlsError, Scope.Scope> =>
  Effect.suspend(() => {
    const { a, b, control } = MemoryTransport.makePair({ capacity: options?.capacity })
    const connect = options?.connect ?? { client: scripted("client"), server: scripted("server") }
    return Effect.map(
      Effect.all([connect.client(a, options?.client), connect.server(b, options?.server)], { concurrency: 2 }),
      ([client, server]): TestPair => ({ client, server, wire: control })
    )
  })

/**
 * A layer that makes one pair for everything that uses it, closed when the
 * layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Current, TlsError> => Layer.effect(Current, make(options))
