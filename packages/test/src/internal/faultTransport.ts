import { ConnectionReset, TlsTransportError } from "@effect-tls/core/TlsError"
import type { Transport } from "@effect-tls/core/Transport"
import type * as FaultTransport from "../FaultTransport.ts"
import { FaultPipe, type PipeSpec } from "./faultPipe.ts"

/** Outbound bytes held here (delayed or split) before `writable()` turns false. */
const outboundLimit = 64 * 1024

const specOf = (faults: ReadonlyArray<FaultTransport.Fault>): PipeSpec => {
  let chunkSize = Number.POSITIVE_INFINITY
  let delayMillis = 0
  let cut: PipeSpec["cut"]
  const flips: Array<{ offset: number; mask: number }> = []
  const injections: Array<{ offset: number; bytes: Uint8Array }> = []
  const check = (name: string, value: number, min: number) => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`FaultTransport: ${name} must be an integer >= ${min}, got ${value}`)
    }
  }
  const cutAt = (kind: "stall" | "reset" | "end", at: number) => {
    check(`${kind} offset`, at, 0)
    if (cut === undefined || at < cut.at) cut = { kind, at }
  }
  for (const fault of faults) {
    switch (fault._tag) {
      case "Chunk":
        check("chunk size", fault.size, 1)
        chunkSize = Math.min(chunkSize, fault.size)
        break
      case "Delay":
        check("delay", fault.millis, 0)
        delayMillis += fault.millis
        break
      case "StallAfter":
        cutAt("stall", fault.bytes)
        break
      case "ResetAfter":
        cutAt("reset", fault.bytes)
        break
      case "EndAfter":
        cutAt("end", fault.bytes)
        break
      case "FlipByte":
        check("flip offset", fault.offset, 0)
        flips.push({ offset: fault.offset, mask: fault.mask ?? 0xff })
        break
      case "Inject":
        check("inject offset", fault.offset, 0)
        injections.push({ offset: fault.offset, bytes: fault.bytes })
        break
    }
  }
  injections.sort((a, b) => a.offset - b.offset)
  return { chunkSize, delayMillis, cut, flips, injections }
}

/**
 * The fault-injecting wrapper. Every call to the inner transport happens inside
 * one of this transport's methods, so inside the IO fiber; timers only call
 * the waker, and whatever they made due moves at the IO fiber's next call
 * (it calls `failure()` at every step).
 */
export class FaultTransportImpl implements FaultTransport.FaultTransport {
  private readonly inner: Transport
  private readonly inbound: FaultPipe
  private readonly outbound: FaultPipe
  private wake: () => void = () => {}
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private error: TlsTransportError | undefined = undefined
  private destroyed = false
  private endRequested = false
  private endPassed = false
  private readonly fired: Array<string> = []

  constructor(inner: Transport, faults: FaultTransport.Faults) {
    this.inner = inner
    this.inbound = new FaultPipe(specOf(faults.inbound ?? []))
    this.outbound = new FaultPipe(specOf(faults.outbound ?? []))
  }

  setWaker(wake: () => void): void {
    this.wake = wake
    this.inner.setWaker(wake)
  }

  /** When the earliest pending timer fires (one timer per due time is enough). */
  private timerDue = Number.POSITIVE_INFINITY

  private schedule(due: number | undefined): void {
    if (due === undefined || this.destroyed || due >= this.timerDue) return
    this.timerDue = due
    const timer = setTimeout(
      () => {
        this.timers.delete(timer)
        if (this.timerDue === due) this.timerDue = Number.POSITIVE_INFINITY
        this.wake()
      },
      Math.max(0, due - Date.now())
    )
    this.timers.add(timer)
  }

  private breakWith(direction: "inbound" | "outbound", at: number): void {
    if (this.error !== undefined) return
    this.fired.push(`${direction} reset after ${at} bytes`)
    this.error = new TlsTransportError({
      reason: new ConnectionReset({
        code: "FAULT_RESET",
        detail: `fault injected: ${direction} reset after ${at} bytes`
      })
    })
    this.inner.destroy()
  }

  // Inbound: pull from the inner transport only while nothing is queued here,
  // so the inner transport keeps its own backpressure.
  private pumpInbound(now: number): void {
    while (!this.destroyed && this.error === undefined && this.inbound.isEmpty && !this.inbound.cutReached) {
      const chunk = this.inner.read()
      if (chunk === undefined) break
      this.inbound.push(chunk, now)
    }
    if (this.inbound.cutReached && this.inbound.isEmpty) {
      const kind = this.inbound.cutKind
      if (kind === "reset") this.breakWith("inbound", this.inbound.consumed)
      else if (kind !== undefined && !this.fired.includes(`inbound ${kind}`)) this.fired.push(`inbound ${kind}`)
    }
  }

  private pumpOutbound(now: number): void {
    if (this.destroyed || this.error !== undefined) return
    for (;;) {
      if (this.outbound.isEmpty || !this.inner.writable()) break
      const chunk = this.outbound.take(now)
      if (chunk === undefined) {
        this.schedule(this.outbound.nextDue())
        break
      }
      this.inner.write(chunk)
    }
    if (!this.outbound.isEmpty) return
    const kind = this.outbound.cutKind
    if (kind === "reset") {
      this.breakWith("outbound", this.outbound.consumed)
    } else if (kind === "end") {
      if (!this.endPassed) {
        this.endPassed = true
        this.fired.push("outbound end")
        this.inner.end()
      }
    } else if (kind === "stall") {
      if (!this.fired.includes("outbound stall")) this.fired.push("outbound stall")
    } else if (this.endRequested && !this.endPassed) {
      this.endPassed = true
      this.inner.end()
    }
  }

  read(): Uint8Array | undefined {
    const now = Date.now()
    this.pumpInbound(now)
    if (this.destroyed || this.error !== undefined) return undefined
    const chunk = this.inbound.take(now)
    if (chunk === undefined) this.schedule(this.inbound.nextDue())
    else if (this.inbound.isEmpty) this.pumpInbound(now)
    return chunk
  }

  readEnded(): boolean {
    if (!this.inbound.isEmpty) return false
    const kind = this.inbound.cutKind
    if (kind === "end") return true
    if (kind !== undefined) return false
    return this.inner.readEnded()
  }

  write(chunk: Uint8Array): boolean {
    const now = Date.now()
    if (!this.destroyed && !this.endRequested) this.outbound.push(chunk, now)
    this.pumpOutbound(now)
    return this.writable()
  }

  writable(): boolean {
    this.pumpOutbound(Date.now())
    if (this.outbound.cutKind === "stall") return false
    if (this.outbound.cutKind === "end") return true
    return this.outbound.bytes < outboundLimit && this.inner.writable()
  }

  end(): void {
    this.endRequested = true
    this.pumpOutbound(Date.now())
  }

  endFinished(): boolean {
    this.pumpOutbound(Date.now())
    return this.endPassed && this.inner.endFinished()
  }

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.inbound.clear()
    this.outbound.clear()
    this.inner.destroy()
  }

  failure(): TlsTransportError | undefined {
    const now = Date.now()
    this.pumpOutbound(now)
    this.pumpInbound(now)
    return this.error ?? this.inner.failure()
  }

  stats(): FaultTransport.FaultStats {
    return {
      inboundBytes: this.inbound.consumed,
      outboundBytes: this.outbound.consumed,
      inboundWithheld: this.inbound.withheld,
      outboundWithheld: this.outbound.withheld,
      fired: [...this.fired]
    }
  }
}
