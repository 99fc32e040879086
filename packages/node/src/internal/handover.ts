/**
 * Handing an engine and a transport to a connection, so that they are never
 * without an owner: the caller's, until `TlsConnection.make` runs, then the
 * connection's scope. The one place where both Node paths, and every
 * upgrade, start a connection.
 */
import type { Engine } from "@effect-tls/core/Engine"
import * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { TlsError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { Plaintext } from "../Plaintext.ts"
import type { EngineOptions } from "./context.ts"
import { makeDuplexEngine } from "./engine/index.ts"
import { handOver, transportOf } from "./plaintext.ts"
import * as Runtime from "./runtime.ts"

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Makes the connection over `engine` and `transport`, inside an
 * uninterruptible region whose `restore` is given: the handshake stays
 * interruptible, and if the connection is not made (a failure, a timeout, an
 * interruption, even one that lands before `make` starts), the engine and the
 * transport are destroyed here. A connection that is made releases them when
 * its scope closes.
 */
export const establish = (
  restore: Restore,
  engine: Engine,
  transport: Transport,
  bounds: {
    readonly options: TlsConnection.ConnectionOptions | undefined
    /** For an engine that dials (see `TlsConnection.make`). */
    readonly connectTimeout?: Duration.Input | undefined
  }
): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  restore(
    TlsConnection.make({ engine, transport, options: bounds.options, connectTimeout: bounds.connectTimeout })
  ).pipe(
    Effect.onExit((exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : Effect.sync(() => {
            transport.destroy()
            engine.destroy()
          })
    )
  )

/**
 * TLS in `role` on the duplex path over what an upgrade was given: a bare
 * transport, or a prologue's `Plaintext` (which must have no unconsumed
 * bytes: see `handOver`). The transport belongs to the connection from the
 * start of this effect.
 */
export const upgrade = (
  over: Transport | Plaintext,
  role: "client" | "server",
  engineOptions: () => EngineOptions,
  options: TlsConnection.ConnectionOptions | undefined
): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) => {
    // The transport is the connection's from the start: refused, it is destroyed like any failed upgrade's.
    const refused = Runtime.refusal("duplex")
    if (refused !== undefined)
      return Effect.andThen(
        Effect.sync(() => transportOf(over).destroy()),
        Effect.fail(refused)
      )
    return Effect.flatMap(handOver(over), (transport) => {
      const { tls, extras } = engineOptions()
      return establish(restore, makeDuplexEngine(role, tls, extras), transport, { options })
    })
  })

/**
 * An upgrade with a configuration made for it alone (`NodeTls.upgradeClient`,
 * `NodeTls.upgradeServer`): `make` builds the client or acceptor, `use`
 * upgrades with it. The transport is destroyed unless a connection is made,
 * whether `make` fails (invalid options) or anything is interrupted in
 * between.
 */
export const upgradeOnce = <A>(
  over: Transport | Plaintext,
  make: Effect.Effect<A, TlsError, Scope.Scope>,
  use: (made: A) => Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope>
): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(make, (made) => restore(use(made))).pipe(
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => transportOf(over).destroy())))
    )
  )
