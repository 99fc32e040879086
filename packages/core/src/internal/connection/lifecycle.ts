/**
 * A connection's life: made over an engine and a transport, its IO fiber
 * started in the caller's scope, the handshake awaited within its bound, and
 * the scope's finalizer that closes it gracefully within its bound, then by
 * force.
 */
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
import { Connection } from "./halves.ts"
import * as Options from "./options.ts"

interface Params {
  readonly engine: Engine
  readonly transport: Transport
  readonly options?: TlsConnection.ConnectionOptions | undefined
  readonly connectTimeout?: Duration.Input | undefined
}

/** @internal */
export const make = (params: Params): Effect.Effect<TlsConnection.TlsConnection, TlsError, Scope.Scope> =>
  Effect.suspend(() => {
    // The engine and the transport are handed over by the call: until the
    // scope's finalizer owns them (`owned`), no IO fiber runs, and if this
    // effect fails or is interrupted once it has started, they are destroyed
    // here. After that, the handshake's failure path and `close` release them
    // once the IO fiber has stopped. (An effect interrupted before it starts
    // runs nothing: a caller handing them over in an uninterruptible region
    // covers that moment itself, as NodeTlsClient does.)
    const owned = { done: false }
    return Effect.onExit(makeOwned(params, owned), (exit) =>
      exit._tag === "Success" || owned.done
        ? Effect.void
        : Effect.sync(() => {
            params.transport.destroy()
            params.engine.destroy()
          })
    )
  })

const makeOwned = Effect.fnUntraced(function* (
  params: Params,
  owned: { done: boolean }
): Effect.fn.Return<TlsConnection.TlsConnection, TlsError, Scope.Scope> {
  const options = yield* Options.resolve(params.options ?? {})
  const connectTimeout = yield* Options.resolveConnectTimeout(params.connectTimeout)
  const clock = yield* Effect.clockWith(Effect.succeed)
  const driver = new Driver(params.engine, params.transport, options, clock)
  const { handshakeTimeout, closeTimeout } = options

  const scope = yield* Effect.scope
  // One finalizer owns the IO fiber: `close` always interrupts it, so it is
  // forked detached (a scope-bound fork would add a second finalizer per
  // connection), and the fork and the finalizer happen in one uninterruptible
  // step, so the fiber is never left without its finalizer. It starts at once
  // rather than on the scheduler's next turn: the engine starts (and a client
  // sends its hello) without waiting for an event-loop turn.
  const fiber = yield* Effect.uninterruptible(
    Effect.tap(Effect.forkDetach(driver.run(), { startImmediately: true }), (fiber) =>
      Effect.map(
        Scope.addFinalizerExit(scope, () => close(driver, fiber, closeTimeout)),
        () => {
          owned.done = true
        }
      )
    )
  )

  const started = clock.currentTimeMillisUnsafe()
  yield* awaitHandshake(driver, connectTimeout, handshakeTimeout).pipe(
    // On failure, timeout or interruption the IO fiber is stopped first, so
    // that it is not running when the engine and transport are released here.
    Effect.onExit((exit) => {
      return exit._tag === "Success"
        ? Effect.void
        : Effect.flatMap(Fiber.interrupt(fiber), () =>
            Effect.sync(() => {
              const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
              if (failure !== undefined && failure._tag === "Fail") {
                driver.fail(failure.error)
              } else {
                driver.abort(CloseOutcome.Forced({ detail: "interrupted during the handshake" }))
              }
            })
          )
    }),
    // A failed handshake leaves the driver `Failed`, and the scope's finalizer
    // counts that error in `recordClose`, once.
    Tracing.withSpan("TlsConnection.handshake", { "tls.role": params.engine.role })
  )

  const lifecycle = driver.lifecycle
  if (lifecycle._tag !== "Established") {
    // `awaitHandshake` succeeds only once the IO fiber reported the session.
    return yield* Effect.die(new Error(`effect-tls: handshake done in the ${lifecycle._tag} state`))
  }
  const { session } = lifecycle
  const elapsed = clock.currentTimeMillisUnsafe() - started
  yield* Metrics.recordHandshake(session.role, session.resumed, elapsed)

  return new Connection(driver, session)
})

/**
 * Completes once the IO fiber reported the handshake done; fails if the
 * connection closed first, or with `Timeout` once the bound of the phase it is
 * in expired: the connect timeout while the engine opens its transport, then
 * the handshake timeout, counted from the moment the transport was open.
 */
const awaitHandshake = (
  driver: Driver,
  connectTimeout: Duration.Duration,
  handshakeTimeout: Duration.Duration
): Effect.Effect<void, TlsError> =>
  Effect.suspend(() => {
    let deadline: Deadline.Deadline | undefined
    let connecting = false
    const wait: Effect.Effect<void, TlsError> = driver.awaitProgress(() => {
      const lifecycle = driver.lifecycle
      if (lifecycle._tag === "Established") return Effect.void
      if (lifecycle._tag === "Closed") return Effect.fail(driver.closedError())
      if (deadline === undefined || (connecting && lifecycle._tag !== "Connecting")) {
        deadline?.cancel()
        connecting = lifecycle._tag === "Connecting"
        return Effect.flatMap(
          Deadline.start(connecting ? connectTimeout : handshakeTimeout, () => driver.expire()),
          (started) => {
            deadline = started
            return wait
          }
        )
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
    return Effect.ensuring(
      wait,
      Effect.sync(() => deadline?.cancel())
    )
  })

/** The scope's finalizer: graceful close within `closeTimeout`, then by force. */
const close = (driver: Driver, fiber: Fiber.Fiber<void>, closeTimeout: Duration.Duration): Effect.Effect<void> =>
  Effect.gen(function* () {
    let forced: string | undefined
    if (driver.lifecycle._tag === "Established") {
      driver.writeBuffer.requestEnd()
      const deadline = yield* Deadline.start(closeTimeout, () => driver.expire())
      const delivered = () => driver.send._tag === "Done" || driver.lifecycle._tag === "Closed"
      yield* driver.awaitProgress(() => (delivered() || deadline.expired ? Effect.void : undefined))
      deadline.cancel()
      if (!delivered()) forced = `close_notify was not delivered within ${Duration.format(closeTimeout)}`
    }
    yield* Fiber.interrupt(fiber)
    const outcome = driver.outcome(forced)
    driver.abort(outcome)
    yield* Metrics.recordClose(driver.engine.role, outcome, driver.bytesRead, driver.bytesWritten)
  })
