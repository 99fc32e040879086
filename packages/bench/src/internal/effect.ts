/**
 * The workloads over an Effect-based implementation, written once against
 * `Conn`, in the plain style an application would use (a generator with a
 * loop, one `write` per chunk).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Credentials } from "../Credentials.ts"
import type { Conn, EffectImplementation } from "../Implementation.ts"
import {
  type Behaviour,
  block,
  type HeldConnections,
  type Sample,
  type ServerHandle,
  signalByte,
  startTimer,
  type Task
} from "../Workload.ts"

class UnexpectedEnd extends Error {}

/** Reads until at least `n` bytes arrived; fails if the stream ends first. */
const readAtLeast = (conn: Conn, n: number): Effect.Effect<number, unknown> =>
  Effect.gen(function* () {
    let total = 0
    while (total < n) {
      const chunks = conn.chunks(yield* conn.read)
      if (chunks === undefined)
        return yield* Effect.fail(new UnexpectedEnd(`stream ended after ${total} of ${n} bytes`))
      for (const chunk of chunks) total += chunk.length
    }
    return total
  })

const readToEnd = (conn: Conn): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    while (conn.chunks(yield* conn.read) !== undefined) {
      // discard
    }
  })

const writeBytes = (conn: Conn, bytes: number, chunkSize: number, counter?: { written: number }) =>
  Effect.gen(function* () {
    const chunk = block(chunkSize)
    let sent = 0
    while (sent < bytes) {
      const n = Math.min(chunkSize, bytes - sent)
      yield* conn.write(n === chunkSize ? chunk : chunk.subarray(0, n))
      sent += n
      if (counter !== undefined) counter.written += n
    }
  })

const handle = (behaviour: Behaviour, conn: Conn, counter: { written: number }): Effect.Effect<void, unknown> => {
  switch (behaviour._tag) {
    case "Source":
      return Effect.gen(function* () {
        if (conn.chunks(yield* conn.read) === undefined) return
        yield* writeBytes(conn, behaviour.bytes, behaviour.chunkSize)
        yield* conn.end
        yield* readToEnd(conn)
      })
    case "Sink":
      return Effect.gen(function* () {
        yield* readAtLeast(conn, behaviour.bytes)
        yield* conn.write(signalByte)
        yield* readToEnd(conn)
        yield* conn.end
      })
    case "Echo":
      return Effect.gen(function* () {
        for (let chunks = conn.chunks(yield* conn.read); chunks !== undefined; chunks = conn.chunks(yield* conn.read)) {
          for (const chunk of chunks) yield* conn.write(chunk)
        }
        yield* conn.end
      })
    case "Idle":
      return Effect.andThen(readToEnd(conn), conn.end)
    case "Flood":
      return writeBytes(conn, behaviour.bytes, behaviour.chunkSize, counter)
  }
}

/** Runs `effect` in a new scope that the returned function closes. */
const runScoped = async <A>(effect: Effect.Effect<A, unknown, Scope.Scope>) => {
  const scope = await Effect.runPromise(Scope.make())
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  try {
    return { value: await Effect.runPromise(Scope.provide(effect, scope)), close }
  } catch (error) {
    await close()
    throw error
  }
}

/** @internal */
export const serve = async (
  implementation: EffectImplementation,
  credentials: Credentials,
  behaviour: Behaviour
): Promise<ServerHandle> => {
  const counter = { written: 0 }
  const { value: port, close } = await runScoped(
    implementation.serve(credentials, (conn) => handle(behaviour, conn, counter))
  )
  return { port, written: () => counter.written, close }
}

const measure = (
  implementation: EffectImplementation,
  credentials: Credentials,
  port: number,
  task: Task
): Effect.Effect<Sample, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* implementation.client(credentials, {
      resume: task._tag === "Handshakes" && task.resume
    })
    if (task._tag === "Handshakes") {
      const { count, concurrency } = task
      let resumed = 0
      let unknown = false
      const one = Effect.scoped(
        Effect.map(client.connect(port), (conn) => {
          if (conn.resumed === undefined) unknown = true
          else if (conn.resumed) resumed++
        })
      )
      // A first full handshake fills the session cache. TLS 1.3 tickets come after the handshake, so
      // this one reads to the server's close_notify (as raw's does): a connection closed as soon as
      // it is established, like the measured ones, ends before its tickets are read.
      if (task.resume) {
        yield* Effect.scoped(Effect.flatMap(client.connect(port), (conn) => Effect.andThen(conn.end, readToEnd(conn))))
      }
      const stop = startTimer()
      yield* Effect.forEach(
        Array.from({ length: concurrency }, (_, i) => Math.floor((count + i) / concurrency)),
        (n) => Effect.repeat(one, { times: n - 1 }),
        { concurrency: "unbounded", discard: true }
      )
      return stop(unknown ? -1 : resumed)
    }
    return yield* Effect.scoped(
      Effect.gen(function* () {
        const conn = yield* client.connect(port)
        const stop = startTimer()
        switch (task._tag) {
          case "Download": {
            yield* conn.write(signalByte)
            yield* readAtLeast(conn, task.bytes)
            break
          }
          case "Upload": {
            yield* writeBytes(conn, task.bytes, task.chunkSize)
            yield* readAtLeast(conn, 1)
            break
          }
          case "PingPong": {
            const message = block(task.size)
            for (let i = 0; i < task.count; i++) {
              yield* conn.write(message)
              yield* readAtLeast(conn, task.size)
            }
            break
          }
          case "SmallWrites": {
            const message = block(task.size)
            for (let i = 0; i < task.count; i++) yield* conn.write(message)
            yield* readAtLeast(conn, 1)
            break
          }
        }
        const sample = stop()
        yield* conn.end
        return sample
      })
    )
  })

/** @internal */
export const run = async (
  implementation: EffectImplementation,
  credentials: Credentials,
  port: number,
  task: Task
): Promise<Sample> => Effect.runPromise(Effect.scoped(measure(implementation, credentials, port, task)))

/** @internal */
export const hold = async (
  implementation: EffectImplementation,
  credentials: Credentials,
  port: number,
  count: number
): Promise<HeldConnections> => {
  const { close } = await runScoped(
    Effect.gen(function* () {
      const client = yield* implementation.client(credentials, { resume: false })
      yield* Effect.forEach(Array.from({ length: count }), () => client.connect(port), {
        concurrency: 8,
        discard: true
      })
    })
  )
  return { count, close }
}
