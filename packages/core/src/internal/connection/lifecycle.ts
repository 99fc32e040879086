/**
 * A connection's life: made over an engine and a transport, its IO fiber
 * started in the caller's scope, the handshake awaited within its bound, and
 * the scope's finalizer that closes it gracefully within its bound, then by
 * force.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { CloseOutcome } from "../../CloseOutcome.ts"
import type { Engine } from "../../Engine.ts"
import type * as TlsConnection from "../../TlsConnection.ts"
import { Timeout, type TlsError, TlsHandshakeError, TlsTransportError } from "../../TlsError.ts"
import type { Transport } from "../../Transport.ts"
import * as Metrics from "../metrics.ts"
import * as Tracing from "../tracing.ts"
import * as Deadline from "./deadline.ts"
import { Driver } from "./driver.ts"
import { awaitClosed, Connection } from "./halves.ts"
import * as Options from "./options.ts"

interface Params {
  readonly engine: Engine
  readonly transport: Transport
  readonly options?: TlsConnection.ConnectionOptions | undefined
  readonly connectTimeout?: Duration.Input | undefined
}

/** @internal */
export const make = (params: Params): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => open(params, (driver) => Scope.addFinalizerExit(scope, closerOf(driver))))

/** @internal */
export const makeUnscoped = (
  params: Params,
  register: (close: Effect.Effect<void>) => void
): Effect.Effect<TlsConnection.TlsConnection, TlsError> =>
  open(params, (driver) =>
    Effect.sync(() => {
      register(closeEffectOf(driver))
    })
  )

/**
 * The scope's finalizer of one connection, and the close `makeUnscoped` hands
 * over. Made here, not where they are used, so that each keeps the driver
 * alone: a closure keeps its maker's whole context (here `register`, and what
 * that keeps) for as long as the connection is open.
 */
const closerOf = (driver: Driver) => () => close(driver)
const closeEffectOf = (driver: Driver): Effect.Effect<void> => Effect.suspend(closerOf(driver))

/**
 * Makes the connection and hands its close over to `attach`, which runs in
 * the step that forks the IO fiber (see `openOwned`).
 */
const open = (
  params: Params,
  attach: (driver: Driver) => Effect.Effect<void>
): Effect.Effect<TlsConnection.TlsConnection, TlsError> =>
  Effect.suspend(() => {
    // The engine and the transport are handed over by the call: until the
    // close owns them (`owned`), no IO fiber runs, and if this effect fails
    // or is interrupted once it has started, they are destroyed here. After
    // that, the handshake's failure path and `close` release them once the
    // IO fiber has stopped. (An effect interrupted before it starts runs
    // nothing: a caller handing them over in an uninterruptible region
    // covers that moment itself, as NodeTlsClient does.)
    const owned = { done: false }
    return Effect.onExit(openOwned(params, owned, attach), (exit) =>
      exit._tag === "Success" || owned.done
        ? Effect.void
        : Effect.sync(() => {
            params.transport.destroy()
            params.engine.destroy()
          })
    )
  })

const openOwned = (
  params: Params,
  owned: { done: boolean },
  attach: (driver: Driver) => Effect.Effect<void>
): Effect.Effect<TlsConnection.TlsConnection, TlsError> => {
  const input = params.options ?? {}
  // Options decoded before (a client's or a server's, on every connection) cost no decode and no effect.
  const options = Options.known(input)
  const connectTimeout = Options.knownConnectTimeout(params.connectTimeout)
  if (options !== undefined && connectTimeout !== undefined) {
    return openWith(params, options, connectTimeout, owned, attach)
  }
  return Effect.flatMap(Options.resolve(input), (options) =>
    Effect.flatMap(Options.resolveConnectTimeout(params.connectTimeout), (connectTimeout) =>
      openWith(params, options, connectTimeout, owned, attach)
    )
  )
}

const openWith = (
  params: Params,
  options: Options.Resolved,
  connectTimeout: Duration.Duration,
  owned: { done: boolean },
  attach: (driver: Driver) => Effect.Effect<void>
): Effect.Effect<TlsConnection.TlsConnection, TlsError> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const driver = new Driver(params.engine, params.transport, options, clock)
    const started = clock.currentTimeMillisUnsafe()
    // The close owns the IO fiber: it always interrupts it, so the fiber is
    // forked detached (a scope-bound fork would add a second finalizer per
    // connection), and the fork and `attach` happen in one uninterruptible
    // step, so the fiber is never left without its close. It starts at once
    // (evaluated in the fork, as `startImmediately` would) rather than on
    // the scheduler's next turn: the engine starts (and a client sends its
    // hello) without waiting for an event-loop turn.
    const forkAndAttach = Effect.withFiber((parent) => {
      const ioFiber = Effect.runForkWith(parent.context)(driver.run())
      driver.ioFiber = ioFiber
      return Effect.map(attach(driver), () => {
        owned.done = true
        return ioFiber
      })
    })
    return Effect.flatMap(Effect.uninterruptible(forkAndAttach), (ioFiber) =>
      Effect.flatMap(handshake(driver, ioFiber, connectTimeout, options.handshakeTimeout), () =>
        established(driver, started)
      )
    )
  })

/** The connection handed to the application, once the IO fiber reported the session; the handshake is counted. */
const established = (driver: Driver, started: number): Effect.Effect<TlsConnection.TlsConnection> =>
  Effect.withFiber((fiber) => {
    const lifecycle = driver.lifecycle
    if (lifecycle._tag !== "Established") {
      // `handshake` succeeds only once the IO fiber reported the session.
      return Effect.die(new Error(`effect-tls: handshake done in the ${lifecycle._tag} state`))
    }
    const { session } = lifecycle
    const elapsed = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() - started
    Metrics.recordHandshakeUnsafe(fiber.context, session.role, session.resumed, elapsed)
    return Effect.succeed(new Connection(driver, session))
  })

/**
 * Completes once the IO fiber reported the handshake done; fails if the
 * connection closed first, or with `Timeout` once the bound of the phase it is
 * in expired: the connect timeout while the engine opens its transport, then
 * the handshake timeout, counted from the moment the transport was open.
 *
 * On failure, timeout or interruption the IO fiber is stopped first, so that
 * it is not running when the engine and transport are released here; a
 * failed handshake leaves the driver `Failed`, and the close counts that
 * error in `recordCloseUnsafe`, once. One exit frame does that and cancels
 * the deadline.
 */
const handshake = (
  driver: Driver,
  ioFiber: Fiber.Fiber<void>,
  connectTimeout: Duration.Duration,
  handshakeTimeout: Duration.Duration
): Effect.Effect<void, TlsError> =>
  Effect.withFiber((fiber) => {
    let deadline: Deadline.Deadline | undefined
    let connecting = false
    const wait: Effect.Effect<void, TlsError> = driver.awaitProgress(() => {
      const lifecycle = driver.lifecycle
      if (lifecycle._tag === "Established") return Effect.void
      if (lifecycle._tag === "Closed") return Effect.fail(driver.closedError())
      if (deadline === undefined || (connecting && lifecycle._tag !== "Connecting")) {
        deadline?.cancel()
        connecting = lifecycle._tag === "Connecting"
        deadline = Deadline.startUnsafe(fiber, connecting ? connectTimeout : handshakeTimeout, driver)
        return undefined
      }
      if (!deadline.expired) return undefined
      return Effect.fail(
        connecting
          ? new TlsTransportError({
              reason: new Timeout({
                detail: `no connection to ${driver.engine.connectingTo?.() ?? "the peer"} within ${Duration.format(connectTimeout)}`
              })
            })
          : new TlsHandshakeError({
              reason: new Timeout({ detail: `no handshake within ${Duration.format(handshakeTimeout)}` })
            })
      )
    })
    return Effect.onExit(wait, (exit) => {
      deadline?.cancel()
      if (exit._tag === "Success") return Effect.void
      return Effect.flatMap(Fiber.interrupt(ioFiber), () =>
        Effect.sync(() => {
          const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
          if (failure !== undefined && failure._tag === "Fail") {
            driver.fail(failure.error)
          } else {
            driver.abort(CloseOutcome.Forced({ detail: "interrupted during the handshake" }))
          }
        })
      )
    })
  }).pipe(Tracing.withSpan("TlsConnection.handshake", { "tls.role": driver.engine.role }))

/**
 * The close of a connection (its scope's finalizer, or `TlsConnection.close`):
 * graceful within the close timeout, then by force. The first close does the
 * work; a later one waits until it is done.
 */
export const close = (driver: Driver): Effect.Effect<void> =>
  Effect.suspend(() => {
    const fiber = driver.ioFiber
    if (driver.closing || fiber === undefined) return Effect.asVoid(awaitClosed(driver))
    driver.closing = true
    // Uninterruptible, as a scope's finalizer is: an interrupted close would
    // leave the connection half closed, with nobody to finish. Bounded by the
    // close timeout.
    return Effect.uninterruptible(closeOnce(driver, fiber))
  })

const closeOnce = (driver: Driver, ioFiber: Fiber.Fiber<void>): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    if (driver.lifecycle._tag !== "Established") return stopAndRelease(driver, ioFiber, undefined)
    driver.writeBuffer.requestEnd()
    const delivered = () => driver.send._tag === "Done" || driver.lifecycle._tag === "Closed"
    // A connection whose write half has ended already (`end`) has nothing left to deliver.
    if (delivered()) return stopAndRelease(driver, ioFiber, undefined)
    const closeTimeout = driver.closeTimeout
    const deadline = Deadline.startUnsafe(fiber, closeTimeout, driver)
    return Effect.flatMap(
      driver.awaitProgress(() => (delivered() || deadline.expired ? Effect.void : undefined)),
      () => {
        deadline.cancel()
        return stopAndRelease(
          driver,
          ioFiber,
          delivered() ? undefined : `close_notify was not delivered within ${Duration.format(closeTimeout)}`
        )
      }
    )
  })

/**
 * The close's end: the IO fiber stops, then the engine and transport are
 * released with the outcome, which is counted. The IO fiber is suspended
 * whenever another fiber runs (it sleeps, or yielded), and an interrupted
 * sleep has nothing to finalize, so it has normally ended once
 * `interruptUnsafe` returns; otherwise the close waits for it, as
 * `Fiber.interrupt` would.
 */
const stopAndRelease = (driver: Driver, ioFiber: Fiber.Fiber<void>, forced: string | undefined): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    ioFiber.interruptUnsafe(fiber.id)
    const release = Effect.sync(() => {
      const outcome = driver.outcome(forced)
      driver.abort(outcome)
      Metrics.recordCloseUnsafe(fiber.context, driver.engine.role, outcome, driver.bytesRead, driver.bytesWritten)
    })
    return ioFiber.pollUnsafe() === undefined ? Effect.andThen(Fiber.await(ioFiber), release) : release
  })
