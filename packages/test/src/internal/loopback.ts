import * as net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type * as Loopback from "../Loopback.ts"

const DEFAULT_TIMEOUT: Duration.Input = "10 seconds"

/** The port of a listening server (a TCP listener always has an `AddressInfo`). */
export const portOf = (server: net.Server): number => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("not a TCP listener")
  return address.port
}

/**
 * Listens on `host`, any free port, until the scope closes; then destroys
 * the sockets in `sockets` and waits for the listener to be gone.
 */
export const listenOn = (
  server: net.Server,
  sockets: ReadonlySet<net.Socket>,
  host = "127.0.0.1"
): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, host, () => resume(Effect.succeed(portOf(server))))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

export const serve = (server: net.Server, host?: string): Effect.Effect<number, never, Scope.Scope> =>
  Effect.suspend(() => {
    const sockets = new Set<net.Socket>()
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    return listenOn(server, sockets, host)
  })

/** A port the kernel chose for a listener on `host`, released again. */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number> =>
  Effect.callback<number>((resume) => {
    const server = net.createServer()
    server.listen(0, host, () => {
      const port = portOf(server)
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** Fails the test (a defect) when `effect` does not complete within `within`. */
const dieAfter = <A>(effect: Effect.Effect<A>, what: string, within: Duration.Input): Effect.Effect<A> =>
  Effect.timeoutOrElse(effect, {
    duration: within,
    orElse: () => Effect.die(new Error(`Loopback: ${what} within ${Duration.format(Duration.fromInputUnsafe(within))}`))
  })

export const listen = (options: Loopback.ListenOptions = {}): Effect.Effect<Loopback.Listener, never, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT
    const accepted = yield* Queue.unbounded<net.Socket>()
    const sockets = new Set<net.Socket>()
    const closedWaiters = new Set<() => void>()
    const server = net.createServer(
      { allowHalfOpen: options.allowHalfOpen ?? false, pauseOnConnect: options.pauseOnConnect ?? false },
      (socket) => {
        sockets.add(socket)
        socket.once("close", () => {
          sockets.delete(socket)
          if (sockets.size === 0) for (const waiter of [...closedWaiters]) waiter()
        })
        socket.on("error", () => {})
        if (options.onConnection === undefined) Queue.offerUnsafe(accepted, socket)
        else options.onConnection(socket)
      }
    )
    const port = yield* listenOn(server, sockets, options.host)
    const allClosed = Effect.callback<void>((resume) => {
      if (sockets.size === 0) return resume(Effect.void)
      const waiter = () => {
        closedWaiters.delete(waiter)
        resume(Effect.void)
      }
      closedWaiters.add(waiter)
      return Effect.sync(() => closedWaiters.delete(waiter))
    })
    return {
      port,
      accept: dieAfter(Queue.take(accepted), "no connection accepted", timeout),
      openSockets: () => sockets.size,
      allClosed: dieAfter(allClosed, "accepted sockets still open", timeout)
    }
  })

/**
 * A TCP listener on 127.0.0.1 whose connections are piped, half-closes
 * included, to `connect()`'s socket; the scope destroys them all.
 */
export const forwarder = (connect: () => net.Socket): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<net.Socket>()
    const server = net.createServer({ allowHalfOpen: true }, (down) => {
      const up = connect()
      for (const socket of [down, up]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {
          down.destroy()
          up.destroy()
        })
      }
      down.pipe(up)
      up.pipe(down)
    })
    return yield* listenOn(server, sockets)
  })
