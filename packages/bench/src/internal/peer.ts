/**
 * The parent's handle on a worker process (see `worker.ts`).
 */
import { type ChildProcess, fork } from "node:child_process"
import type { RuntimeUnderTest } from "@effect-tls/runtimes/Runtimes"
import type { Envelope, Reply, Request } from "./protocol.ts"

const workerPath = new URL("../worker.ts", import.meta.url)

/** Bound on any single request: the longest measurement plus a wide margin. */
const requestTimeoutMs = 300_000

/** @internal */
export class Peer {
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  private nextId = 0
  private exited = false

  private constructor(child: ChildProcess) {
    this.child = child
    child.on("message", (reply: Reply) => {
      const entry = this.pending.get(reply.id)
      if (entry === undefined) return
      this.pending.delete(reply.id)
      if (reply.ok) entry.resolve(reply.value)
      else entry.reject(new Error(`worker: ${reply.error}`))
    })
    child.on("exit", (code, signal) => {
      this.exited = true
      for (const entry of this.pending.values()) entry.reject(new Error(`worker exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  /**
   * Forks a worker and waits until it is ready. `gc` is for memory figures: it
   * exposes the collector, and keeps V8 from flushing the bytecode of functions
   * idle for a while (which freed heap during the measurement and made the heap
   * growth per connection read low, for raw node:tls most of all).
   * `runtime` (default: this Node) runs the worker: Node's IPC channel is
   * what Bun and Deno give `process.send` too.
   */
  static async start(options: {
    readonly gc: boolean
    readonly runtime?: RuntimeUnderTest | undefined
  }): Promise<Peer> {
    const gcFlags = options.gc ? ["--expose-gc", "--no-flush-bytecode"] : []
    const child = fork(workerPath, [], {
      ...(options.runtime === undefined
        ? { execArgv: gcFlags }
        : { execPath: options.runtime.executable, execArgv: [...options.runtime.scriptArgs, ...gcFlags] }),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const peer = new Peer(child)
    await new Promise<void>((resolve, reject) => {
      peer.pending.set(0, { resolve: () => resolve(), reject })
    })
    return peer
  }

  request<A>(request: Request): Promise<A> {
    if (this.exited) return Promise.reject(new Error("worker has exited"))
    const id = ++this.nextId
    return new Promise<A>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`worker request ${request.op} timed out`))
      }, requestTimeoutMs)
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value as A)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        }
      })
      this.child.send({ id, request } satisfies Envelope)
    })
  }

  /** Closes the IPC channel (the worker exits on it), then kills the worker if it is still there after 5 s. */
  stop(): Promise<void> {
    if (this.exited) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000)
      this.child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
      this.child.disconnect()
    })
  }
}
