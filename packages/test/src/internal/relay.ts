import * as net from "node:net"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Relay from "../Relay.ts"
import { listenOn } from "./loopback.ts"

const DEFAULT_TIMEOUT: Duration.Input = "10 seconds"

/** Splits a direction's bytes into TLS records (5-byte header, then the length it gives). */
const recordSplitter = (direction: Relay.Direction, hook: Relay.RecordHook) => {
  let pending: Buffer = Buffer.alloc(0)
  let index = 0
  return (chunk: Buffer): Buffer => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const out: Array<Buffer> = []
    while (pending.length >= 5) {
      const length = 5 + pending.readUInt16BE(3)
      if (pending.length < length) break
      out.push(hook(direction, index++, Buffer.from(pending.subarray(0, length))))
      pending = pending.subarray(length)
    }
    return out.length === 1 ? (out[0] ?? Buffer.alloc(0)) : Buffer.concat(out)
  }
}

export const make = (port: number, options: Relay.Options = {}): Effect.Effect<Relay.Relay, never, Scope.Scope> =>
  Effect.gen(function* () {
    const host = options.host ?? "127.0.0.1"
    /** Both legs of the current connection, destroyed with the scope. */
    const legs = new Set<net.Socket>()
    const closed: Record<Relay.Leg, boolean> = { upstream: false, downstream: false }
    const closeWaiters = new Set<() => void>()
    const paused = new Set<Relay.Direction>()
    const corrupt = new Set<Relay.Direction>()
    const links = new Map<Relay.Direction, { readonly from: net.Socket; readonly to: net.Socket }>()

    const link = (direction: Relay.Direction, from: net.Socket, to: net.Socket) => {
      links.set(direction, { from, to })
      if (paused.has(direction)) from.pause()
      const transform = options.onRecord === undefined ? undefined : recordSplitter(direction, options.onRecord)
      from.on("data", (chunk: Buffer) => {
        const out = transform === undefined ? chunk : transform(chunk)
        if (out.length === 0 || to.destroyed) return
        if (corrupt.has(direction) && out.length > 10) {
          corrupt.delete(direction)
          out[out.length - 5] = (out[out.length - 5] ?? 0) ^ 0xff
        }
        if (!to.write(out)) {
          // TCP backpressure: stop reading the source until the destination drains.
          from.pause()
          to.once("drain", () => {
            if (!paused.has(direction)) from.resume()
          })
        }
      })
      from.on("end", () => to.end())
    }

    const server = net.createServer({ allowHalfOpen: true }, (downstream) => {
      const upstream = net.connect({ host, port, allowHalfOpen: true })
      closed.upstream = false
      closed.downstream = false
      for (const socket of [downstream, upstream]) {
        legs.add(socket)
        socket.on("error", () => {
          downstream.destroy()
          upstream.destroy()
        })
        socket.on("close", () => legs.delete(socket))
      }
      const onClose = (leg: Relay.Leg) => () => {
        closed[leg] = true
        for (const waiter of [...closeWaiters]) waiter()
      }
      upstream.on("close", onClose("upstream"))
      downstream.on("close", onClose("downstream"))
      link("toServer", downstream, upstream)
      link("toClient", upstream, downstream)
    })
    const ownPort = yield* listenOn(server, legs)

    const relay: Relay.Relay = {
      port: ownPort,
      pause: (direction) =>
        Effect.sync(() => {
          paused.add(direction)
          links.get(direction)?.from.pause()
        }),
      resume: (direction) =>
        Effect.sync(() => {
          paused.delete(direction)
          links.get(direction)?.from.resume()
        }),
      end: (direction) =>
        Effect.sync(() => {
          const found = links.get(direction)
          if (found === undefined) return
          found.from.removeAllListeners("data")
          found.from.pause()
          found.to.end()
        }),
      reset: Effect.sync(() => {
        for (const socket of legs) socket.resetAndDestroy()
      }),
      corruptNext: (direction) => Effect.sync(() => void corrupt.add(direction)),
      closed: (leg) => closed[leg],
      awaitClosed: (leg, within = DEFAULT_TIMEOUT) =>
        Effect.suspend(() => {
          const started = Date.now()
          return Effect.callback<void>((resume) => {
            const check = () => {
              if (!closed[leg]) return
              closeWaiters.delete(check)
              resume(Effect.void)
            }
            closeWaiters.add(check)
            check()
            return Effect.sync(() => closeWaiters.delete(check))
          }).pipe(
            Effect.timeoutOption(Duration.fromInputUnsafe(within)),
            Effect.map(Option.map(() => Date.now() - started))
          )
        })
    }
    return relay
  })
