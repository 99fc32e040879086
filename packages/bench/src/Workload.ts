/**
 * The workloads every implementation runs: what a server does with each
 * connection ({@link Behaviour}) and what a measuring client does
 * ({@link Task}), plus what a measurement yields ({@link Sample}).
 *
 * All values here are plain data, so that the parent can ask a worker
 * process to run a server or a client over IPC.
 *
 * @since 0.1.0
 */

/**
 * What a server does with every connection it accepts.
 *
 * - `Source`: waits for one byte (the client's go), writes `bytes` in
 *   `chunkSize` writes, ends its write side, reads to the end.
 * - `Sink`: reads `bytes`, answers one byte (the ack), reads to the end.
 * - `Echo`: writes back every chunk it reads, until the end.
 * - `Idle`: reads to the end, then ends.
 * - `Flood`: writes `bytes` as fast as the peer takes them and never reads.
 *
 * @since 0.1.0
 * @category models
 */
export type Behaviour =
  | { readonly _tag: "Source"; readonly bytes: number; readonly chunkSize: number }
  | { readonly _tag: "Sink"; readonly bytes: number }
  | { readonly _tag: "Echo" }
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Flood"; readonly bytes: number; readonly chunkSize: number }

/**
 * What a measuring client does. Timing starts once the connection is
 * established and stops when the last byte arrived (the handshake and the
 * close are outside it), except for `Handshakes`, which times everything.
 *
 * - `Download`: sends the go byte, reads `bytes` (server `Source`).
 * - `Upload`: writes `bytes` in `chunkSize` writes, waits for the ack (server `Sink`).
 * - `PingPong`: `count` times, writes `size` bytes and reads them back (server `Echo`).
 * - `SmallWrites`: writes `count` messages of `size` bytes back to back,
 *   waits for the ack (server `Sink` of `count * size`).
 * - `Handshakes`: `count` connections, `concurrency` at a time, each closed
 *   as soon as it is established (server `Idle`); `resume` reuses sessions.
 *
 * @since 0.1.0
 * @category models
 */
export type Task =
  | { readonly _tag: "Download"; readonly bytes: number }
  | { readonly _tag: "Upload"; readonly bytes: number; readonly chunkSize: number }
  | { readonly _tag: "PingPong"; readonly count: number; readonly size: number }
  | { readonly _tag: "SmallWrites"; readonly count: number; readonly size: number }
  | { readonly _tag: "Handshakes"; readonly count: number; readonly concurrency: number; readonly resume: boolean }

/**
 * One measurement.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sample {
  /** Wall time of the timed part. */
  readonly seconds: number
  /** User plus system CPU time of this process during the timed part. */
  readonly cpuSeconds: number
  /** Handshakes that resumed a session (`Handshakes` only; -1 when the implementation cannot tell). */
  readonly resumed: number
}

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerHandle {
  readonly port: number
  /** Plaintext bytes the server's writes handed over so far (what a `Flood` got rid of). */
  readonly written: () => number
  /** Stops listening and closes every connection. */
  readonly close: () => Promise<void>
}

/**
 * Client connections held open (idle, or not reading under a flood).
 *
 * @since 0.1.0
 * @category models
 */
export interface HeldConnections {
  readonly count: number
  readonly close: () => Promise<void>
}

/**
 * The byte a client sends to start a download, and a server sends as an ack.
 *
 * @since 0.1.0
 * @category constants
 */
export const signalByte: Uint8Array = new Uint8Array([0x21])

/**
 * A block of `size` bytes that writers send again and again (never mutated).
 *
 * @since 0.1.0
 * @category constructors
 */
export const block = (size: number): Uint8Array => new Uint8Array(size).fill(0x61)

/**
 * A timer for the timed part of a task: wall time and this process's CPU time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startTimer = (): ((resumed?: number) => Sample) => {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  return (resumed = -1) => {
    const cpu = process.cpuUsage(cpu0)
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, resumed }
  }
}
