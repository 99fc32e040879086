import * as Fiber from "effect/Fiber"

/**
 * Records which fiber called each method of an engine or a transport, so a
 * test can check the single-owner rule (contract point 1). A call made
 * outside any fiber (from a Node callback, say) is recorded as `"none"`.
 */
export class CallerLog {
  private readonly byMethod = new Map<string, Set<number | "none">>()

  record(method: string): void {
    const id = Fiber.getCurrent()?.id ?? "none"
    let set = this.byMethod.get(method)
    if (set === undefined) {
      set = new Set()
      this.byMethod.set(method, set)
    }
    set.add(id)
  }

  /** The distinct callers of every method except `except`. */
  callers(except: ReadonlyArray<string> = []): ReadonlyArray<number | "none"> {
    const all = new Set<number | "none">()
    for (const [method, set] of this.byMethod) {
      if (except.includes(method)) continue
      for (const id of set) all.add(id)
    }
    return Array.from(all)
  }

  /** The distinct callers per method. */
  snapshot(): ReadonlyMap<string, ReadonlyArray<number | "none">> {
    return new Map(Array.from(this.byMethod, ([method, set]) => [method, Array.from(set)] as const))
  }
}

/**
 * Calls `wake` once, asynchronously, however many times `schedule` is called
 * before it runs: wakers are never called re-entrantly from inside the method
 * that caused the change.
 */
export class AsyncWaker {
  private wake: (() => void) | undefined = undefined
  private scheduled = false

  set(wake: () => void): void {
    this.wake = wake
  }

  readonly schedule = (): void => {
    if (this.scheduled || this.wake === undefined) return
    this.scheduled = true
    queueMicrotask(this.run)
  }

  private readonly run = (): void => {
    this.scheduled = false
    this.wake?.()
  }
}
