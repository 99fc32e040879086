/**
 * A worker process: the peer of two-process benchmarks and the measured
 * process of memory benchmarks. It runs servers and clients on request of
 * its parent (over the IPC channel of `child_process.fork`) and exits when
 * the channel closes, so it never outlives the parent.
 *
 * @since 0.1.0
 */

import * as Implementations from "./Implementations.ts"
import * as Drivers from "./internal/drivers.ts"
import type { Envelope, Memory, Reply, Request } from "./internal/protocol.ts"

const handles = new Map<number, { readonly close: () => Promise<void>; readonly written?: () => number }>()
let nextHandle = 0

const memory = (): Memory => {
  // Collects twice: the second pass frees what the first one's finalizers released.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const usage = process.memoryUsage()
  return { rss: usage.rss, heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers }
}

const handle = async (request: Request): Promise<unknown> => {
  switch (request.op) {
    case "serve": {
      const server = await Drivers.serve(
        Implementations.get(request.implementation),
        request.credentials,
        request.behaviour
      )
      handles.set(++nextHandle, server)
      return { port: server.port, handle: nextHandle }
    }
    case "written":
      return handles.get(request.handle)?.written?.() ?? 0
    case "run":
      return Drivers.run(Implementations.get(request.implementation), request.credentials, request.port, request.task)
    case "hold": {
      const held = await Drivers.hold(
        Implementations.get(request.implementation),
        request.credentials,
        request.port,
        request.count
      )
      handles.set(++nextHandle, held)
      return nextHandle
    }
    case "close": {
      const entry = handles.get(request.handle)
      handles.delete(request.handle)
      await entry?.close()
      return null
    }
    case "cpu": {
      const usage = process.cpuUsage()
      return (usage.user + usage.system) / 1e6
    }
    case "memory":
      return memory()
  }
}

process.on("message", (message: Envelope) => {
  handle(message.request).then(
    (value) => process.send?.({ id: message.id, ok: true, value } satisfies Reply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error)
      } satisfies Reply)
  )
})
// The parent is gone or done: close what is still open (bounded), then exit.
process.on("disconnect", () => {
  const timer = setTimeout(() => process.exit(0), 3000)
  timer.unref()
  Promise.allSettled(Array.from(handles.values(), (entry) => entry.close())).then(() => process.exit(0))
})
process.send?.({ id: 0, ok: true, value: "ready" } satisfies Reply)
