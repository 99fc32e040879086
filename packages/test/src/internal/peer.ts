import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { accessSync, constants } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Peer from "../Peer.ts"
// A cycle with the public module, used only inside functions (never while either module loads).
import { Exited, PeerError, Spawn, Timeout } from "../Peer.ts"

/** How far back a new chunk is rescanned, for a match split across chunks. */
const RESCAN = 512

const DEFAULT_TIMEOUT: Duration.Input = "10 seconds"
const DEFAULT_KILL_TIMEOUT: Duration.Input = "2 seconds"
/** After SIGKILL: how long the release waits for the exit before it gives up on the process. */
const REAP_TIMEOUT_MS = 5_000

type Stream = "stdout" | "stderr" | "output"

/** What the process did so far: written by its event handlers, read by the waits. */
interface State {
  readonly text: Record<Stream, string>
  /** The exit status once the process exited (`exit` event). */
  exit: Peer.ExitStatus | undefined
  /** Whether its pipes are drained too (`close` event): no output comes after it. */
  closed: boolean
  /** Called on every chunk of output and on `close`. */
  readonly waiters: Set<() => void>
}

const describe = (name: string, state: State): string =>
  `${name}\n--- stdout ---\n${state.text.stdout.slice(-2000)}\n--- stderr ---\n${state.text.stderr.slice(-2000)}`

const millis = (input: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(input))

/** Signals the process group `pid` leads; whether it had a member to signal. */
const signalGroup = (pid: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    // A negative pid is the process group; `detached: true` made the process its leader.
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

/**
 * Ends a peer's process group: SIGTERM to the group, then SIGKILL to what is
 * left of it, at once when the leader exits (members that forked away from it)
 * or after `killTimeout` if it does not; then waits for the leader's exit (at
 * most 5 seconds more).
 *
 * The group is signalled only while its id is known to be ours: while the
 * leader lives (its pid is the group's id), or in the same tick as finding a
 * member left after the leader's exit (a pid is reused only once every member
 * of its group is gone). A peer that exited on its own before the scope
 * closed is not signalled: its pid may belong to another process by then.
 */
const stop = (
  child: ChildProcessWithoutNullStreams,
  pid: number,
  state: State,
  killTimeout: Duration.Input
): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    child.stdin.destroy()
    const timers: Array<NodeJS.Timeout> = []
    let finished = false
    const done = () => {
      if (finished) return
      finished = true
      for (const timer of timers) clearTimeout(timer)
      child.removeListener("exit", onExit)
      child.stdout.destroy()
      child.stderr.destroy()
      resume(Effect.void)
    }
    function onExit() {
      // Members left behind by the leader (they share its group id, which keeps the id from reuse).
      if (signalGroup(pid, 0)) signalGroup(pid, "SIGKILL")
      done()
    }
    if (state.exit !== undefined) return done()
    child.once("exit", onExit)
    signalGroup(pid, "SIGTERM")
    const killAfter = millis(killTimeout)
    timers.push(
      // The leader is still alive (its exit would have cleared this timer): the group is ours.
      setTimeout(() => signalGroup(pid, "SIGKILL"), killAfter),
      // Bounded even if the leader cannot be reaped (stuck in the kernel): the release gives up.
      setTimeout(done, killAfter + REAP_TIMEOUT_MS)
    )
  })

export const start = (
  command: string,
  args: ReadonlyArray<string>,
  options: Peer.StartOptions = {}
): Effect.Effect<Peer.Peer, Peer.PeerError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name ?? [path.basename(command), ...args].join(" ")
    const timeout = options.timeout ?? DEFAULT_TIMEOUT
    const state: State = {
      text: { stdout: "", stderr: "", output: "" },
      exit: undefined,
      closed: false,
      waiters: new Set()
    }
    const notify = () => {
      for (const waiter of [...state.waiters]) waiter()
    }
    const { child, pid } = yield* Effect.acquireRelease(
      Effect.callback<{ readonly child: ChildProcessWithoutNullStreams; readonly pid: number }, Peer.PeerError>(
        (resume) => {
          const child = spawn(command, [...args], {
            stdio: "pipe",
            detached: true,
            ...(options.env === undefined ? {} : { env: options.env }),
            ...(options.cwd === undefined ? {} : { cwd: options.cwd })
          })
          // Every handler is attached before this callback returns: no event can come before them.
          child.stdin.on("error", () => {})
          const onText = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
            const text = chunk.toString("latin1")
            state.text[stream] += text
            state.text.output += text
            notify()
          }
          const stdout = options.stdout ?? "capture"
          if (stdout === "capture") child.stdout.on("data", onText("stdout"))
          else child.stdout.on("data", (chunk: Buffer) => stdout(chunk))
          if (options.stderr === "ignore") child.stderr.resume()
          else child.stderr.on("data", onText("stderr"))
          child.once("exit", (code, signal) => {
            state.exit = { code, signal }
          })
          child.once("close", (code, signal) => {
            state.exit ??= { code, signal }
            state.closed = true
            notify()
          })
          child.once("spawn", () => {
            if (child.pid === undefined) return
            resume(Effect.succeed({ child, pid: child.pid }))
          })
          child.on("error", (error) => {
            // After a successful spawn, errors are failed signals to a process that is gone.
            if (child.pid === undefined) {
              resume(
                Effect.fail(new PeerError({ reason: new Spawn({ detail: `${name}: ${error.message}`, cause: error }) }))
              )
            }
          })
        }
      ),
      ({ child, pid }) => stop(child, pid, state, options.killTimeout ?? DEFAULT_KILL_TIMEOUT)
    )

    const bounded = <A>(effect: Effect.Effect<A, Peer.PeerError>, what: string, within: Duration.Input) =>
      Effect.timeoutOrElse(effect, {
        duration: within,
        orElse: () =>
          Effect.fail(
            new PeerError({
              reason: new Timeout({
                detail: `${what} within ${Duration.format(Duration.fromInputUnsafe(within))}: ${describe(name, state)}`
              })
            })
          )
      })

    const waitFor = (pattern: RegExp, waitOptions: Peer.WaitOptions = {}) => {
      const stream = waitOptions.stream ?? "output"
      const count = waitOptions.count ?? 1
      const what = `${stream} never matched ${pattern}${count === 1 ? "" : ` ${count} times`}`
      return bounded(
        Effect.callback<RegExpExecArray, Peer.PeerError>((resume) => {
          const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`)
          // Invariant: matches before `consumed` are counted; a later match starts at or after it.
          let consumed = waitOptions.from ?? 0
          let found = 0
          const check = () => {
            const text = state.text[stream]
            global.lastIndex = consumed
            for (let match = global.exec(text); match !== null; match = global.exec(text)) {
              found++
              consumed = global.lastIndex = match.index + Math.max(1, match[0].length)
              if (found >= count) {
                state.waiters.delete(check)
                return resume(Effect.succeed(match))
              }
            }
            // A match may be split across chunks: rescan a little of the tail next time.
            consumed = Math.max(consumed, text.length - RESCAN)
            if (state.closed) {
              state.waiters.delete(check)
              resume(
                Effect.fail(new PeerError({ reason: new Exited({ detail: `${what}: ${describe(name, state)}` }) }))
              )
            }
          }
          state.waiters.add(check)
          check()
          return Effect.sync(() => state.waiters.delete(check))
        }),
        what,
        waitOptions.timeout ?? timeout
      )
    }

    const exited = bounded(
      Effect.callback<Peer.ExitStatus, Peer.PeerError>((resume) => {
        const check = () => {
          if (!state.closed) return
          state.waiters.delete(check)
          resume(Effect.succeed(state.exit ?? { code: null, signal: null }))
        }
        state.waiters.add(check)
        check()
        return Effect.sync(() => state.waiters.delete(check))
      }),
      "no exit",
      timeout
    )

    const peer: Peer.Peer = {
      name,
      pid,
      output: () => state.text.output,
      stdout: () => Buffer.from(state.text.stdout, "latin1"),
      stdoutText: () => state.text.stdout,
      stderr: () => state.text.stderr,
      mark: (stream = "output") => state.text[stream].length,
      waitFor,
      write: (data) =>
        Effect.callback<void>((resume) => {
          if (child.stdin.destroyed || child.stdin.writableEnded) return resume(Effect.void)
          child.stdin.write(data, () => resume(Effect.void))
        }),
      endInput: Effect.callback<void>((resume) => {
        if (child.stdin.destroyed || child.stdin.writableEnded) return resume(Effect.void)
        child.stdin.end(() => resume(Effect.void))
      }),
      pauseStdout: Effect.sync(() => void child.stdout.pause()),
      resumeStdout: Effect.sync(() => void child.stdout.resume()),
      signal: (signal) =>
        Effect.sync(() => {
          if (state.exit === undefined) child.kill(signal)
        }),
      exited
    }
    return peer
  })

export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: Peer.RunOptions = {}
): Effect.Effect<Peer.Completed, Peer.PeerError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const peer = yield* start(command, args, options)
      if (options.input !== undefined && options.input.length > 0) yield* peer.write(options.input)
      yield* peer.endInput
      const status = yield* peer.exited
      return {
        ...status,
        stdout: peer.stdout(),
        stdoutText: peer.stdoutText(),
        stderr: peer.stderr(),
        output: peer.output()
      }
    })
  )

export const available = (commands: ReadonlyArray<string>): boolean => {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== "")
  const found = (command: string) =>
    dirs.some((dir) => {
      try {
        accessSync(path.join(dir, command), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
  return commands.every(found)
}

export const waitForPort = (port: number, host = "127.0.0.1") =>
  Effect.gen(function* () {
    // Nothing signals that another process started listening: probe, 250 times at most, 20 ms apart.
    for (let attempt = 0; attempt < 250; attempt++) {
      const open = yield* Effect.callback<boolean>((resume) => {
        const socket = net.connect({ host, port })
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed(true))
        })
        socket.once("error", () => {
          socket.destroy()
          resume(Effect.succeed(false))
        })
        return Effect.sync(() => socket.destroy())
      })
      if (open) return
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.fail(new PeerError({ reason: new Timeout({ detail: `nothing listens on ${host}:${port}` }) }))
  })
