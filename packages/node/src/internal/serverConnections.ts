/**
 * The fibers of a server's open connections, for its shutdown and its
 * `connections` count.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/**
 * What `FiberSet` would do for a server, without its per-fiber cost: a
 * `FiberSet` observes every fiber it runs (a closure, its context and the
 * fiber's observer list, for the connection's whole life), where a
 * connection's fiber here leaves the set itself, in the finalizer it has
 * anyway (`leave`).
 *
 * Who runs what: `run` from the listener's `'connection'` callback, `leave`
 * from a connection's fiber as it ends, the rest from the server's scope
 * (its finalizer, and `Server.connections`).
 */
export class ServerConnections<R> {
  /** Written by `run` (adds) and `leave` (deletes); read by `size`, `awaitEmpty` and `interruptAll`. */
  private readonly fibers = new Set<Fiber.Fiber<unknown, unknown>>()
  /** Written by `awaitEmpty` (while it waits) and `leave` (which calls it once the set is empty). */
  private emptied: (() => void) | undefined = undefined
  /** Written once by `close`; read by `run`, which runs nothing after it. */
  private closed = false
  private readonly fork: (effect: Effect.Effect<void, unknown, R>) => Fiber.Fiber<void, unknown>

  constructor(fork: (effect: Effect.Effect<void, unknown, R>) => Fiber.Fiber<void, unknown>) {
    this.fork = fork
  }

  /**
   * Forks `effect`, which must call `leave` as it ends, whatever its exit
   * (the first operation it evaluates installs that, before it can be
   * interrupted: a fork evaluates its fiber synchronously until it first
   * suspends). False, and nothing runs, once the set is closed.
   */
  run(effect: Effect.Effect<void, unknown, R>): boolean {
    if (this.closed) return false
    const fiber = this.fork(effect)
    // A fiber that ended within the fork left before it was added.
    if (fiber.pollUnsafe() === undefined) this.fibers.add(fiber)
    return true
  }

  /** Called by a connection's fiber as it ends, with that fiber. */
  leave(fiber: Fiber.Fiber<unknown, unknown>): void {
    if (!this.fibers.delete(fiber) || this.fibers.size > 0) return
    const emptied = this.emptied
    this.emptied = undefined
    emptied?.()
  }

  readonly size: Effect.Effect<number> = Effect.sync(() => this.fibers.size)

  /** Completes once no connection is open. */
  readonly awaitEmpty: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.fibers.size === 0) {
      resume(Effect.void)
      return
    }
    this.emptied = () => resume(Effect.void)
    return Effect.sync(() => {
      this.emptied = undefined
    })
  })

  /** Interrupts every open connection (each closes with close_notify) and waits for them to end. */
  readonly interruptAll: Effect.Effect<void> = Effect.suspend(() => Fiber.interruptAll(Array.from(this.fibers)))

  /** No connection runs from now on. */
  close(): void {
    this.closed = true
  }
}
