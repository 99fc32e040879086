/**
 * The idle timer: `idleTimeout` milliseconds without plaintext traffic on an
 * established connection fail it with a `Timeout`.
 *
 * One interval per timeout value serves every connection with that timeout,
 * instead of a timer per connection (a Node `Timeout` is about 160 bytes that
 * an idle connection would keep for its whole life): the connection only
 * notes that plaintext moved (a boolean), and the interval looks at each
 * connection every quarter of the timeout. A connection fails after four
 * looks in a row found nothing moved, so between the timeout and 1.25 times
 * it after its last traffic: never before.
 */
import { Timeout, TlsTransportError } from "@effect-tls/core/TlsError"

/** Looks per timeout: how much later than the timeout a connection may fail (a quarter of it, here). */
const LOOKS = 4

/**
 * What the idle timer keeps of a connection: two fields on its engine, and
 * the engine's place in its wheel.
 */
export interface Watched {
  /**
   * Plaintext moved since the wheel last looked. Set by the engine (Node's
   * 'data', the IO fiber's writes) and by `start`; read and cleared by the
   * wheel's look.
   */
  idleMoved: boolean
  /** Looks in a row that found nothing moved: written and read by the wheel only (and reset by `start`). */
  idleLooks: number
  /** The connection was idle for `timeout` ms: called by the wheel, once, after it let go of the connection. */
  readonly onIdle: (timeout: number) => void
}

/**
 * The connections with one timeout, and the interval that looks at them,
 * running only while there are any. Unreferenced, as Node's socket timeouts
 * are: it keeps no process alive.
 */
class Wheel {
  readonly timeout: number
  /** Added to by `start`, removed from by `stop` and by the look that fails a connection. */
  private readonly watched = new Set<Watched>()
  private interval: ReturnType<typeof setInterval> | undefined = undefined

  constructor(timeout: number) {
    this.timeout = timeout
  }

  add(connection: Watched): void {
    // The start counts as traffic: the first look only clears it.
    connection.idleMoved = true
    connection.idleLooks = 0
    this.watched.add(connection)
    if (this.interval === undefined) {
      this.interval = setInterval(look, Math.max(1, Math.ceil(this.timeout / LOOKS)), this)
      this.interval.unref()
    }
  }

  remove(connection: Watched): void {
    if (!this.watched.delete(connection) || this.watched.size > 0) return
    clearInterval(this.interval)
    this.interval = undefined
    wheels.delete(this.timeout)
  }

  look(): void {
    // A Set may lose entries while it is iterated: a removed one is not visited.
    for (const connection of this.watched) {
      if (connection.idleMoved) {
        connection.idleMoved = false
        connection.idleLooks = 0
      } else if (++connection.idleLooks >= LOOKS) {
        this.remove(connection)
        connection.onIdle(this.timeout)
      }
    }
  }
}

/** Shared by every wheel: an interval's callback, given its wheel. */
function look(wheel: Wheel): void {
  wheel.look()
}

/** The wheels by timeout (ms): one per value in use, removed with its last connection. */
const wheels = new Map<number, Wheel>()

/**
 * Starts (or, after a repeated handshake, restarts) the idle bound of an
 * established connection. It starts with the established connection: the
 * handshake has its own timeout, and a stalled handshake is reported as that.
 */
export const start = (connection: Watched, timeout: number | undefined): void => {
  if (timeout === undefined || timeout <= 0) return
  let wheel = wheels.get(timeout)
  if (wheel === undefined) {
    wheel = new Wheel(timeout)
    wheels.set(timeout, wheel)
  }
  wheel.add(connection)
}

/** Ends the idle bound (the connection failed or is released). Does nothing if it was not started. */
export const stop = (connection: Watched, timeout: number | undefined): void => {
  if (timeout === undefined) return
  wheels.get(timeout)?.remove(connection)
}

/** The error of an idle connection. */
export const idleError = (timeout: number): TlsTransportError =>
  new TlsTransportError({ reason: new Timeout({ detail: `no traffic for ${timeout} ms` }) })
