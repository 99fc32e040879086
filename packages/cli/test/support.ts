/**
 * Subprocesses for the command-line tests: the real `effect-tls` binary and
 * real TLS peers, each a scoped resource killed (and awaited) when the test's
 * scope closes. Every wait is on an event (a line of output, the exit) and
 * bounded.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as CertificateAuthority from "@effect-tls/test/CertificateAuthority"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The launcher of the `effect-tls` bin. */
export const binPath = path.join(import.meta.dirname, "..", "bin", "effect-tls.js")

/** A wait on a subprocess did not end as expected. */
export class ProcessError extends Data.TaggedError("ProcessError")<{
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/** How a process ended. */
export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running subprocess with its output so far. */
export interface Proc {
  readonly name: string
  readonly child: ChildProcess
  readonly stdout: () => Buffer
  readonly stdoutText: () => string
  readonly stderr: () => string
  /** Waits until the stream's text matches, failing if the process exits first or the time runs out. */
  readonly waitFor: (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeout?: Duration.Input
  ) => Effect.Effect<RegExpMatchArray, ProcessError>
  /** Waits for the process to exit. */
  readonly exited: (timeout?: Duration.Input) => Effect.Effect<Exited, ProcessError>
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  /** Ends stdin. */
  readonly endInput: Effect.Effect<void>
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
}

const describe = (proc: { name: string; stderr: () => string; stdoutText: () => string }) =>
  `${proc.name}\n--- stdout ---\n${proc.stdoutText().slice(-2000)}\n--- stderr ---\n${proc.stderr().slice(-2000)}`

/** Spawns a process in the scope; the scope's end kills it (SIGKILL) and waits for its exit. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly name?: string; readonly env?: NodeJS.ProcessEnv } = {}
) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env })
      const out: Array<Buffer> = []
      let err = ""
      let exit: Exited | undefined
      child.stdout?.on("data", (chunk: Buffer) => out.push(chunk))
      child.stderr?.on("data", (chunk: Buffer) => {
        err += chunk.toString("utf8")
      })
      // A peer that exits while we write to it must not crash the test run.
      child.stdin?.on("error", () => {})
      let closed = false
      child.on("exit", (code, signal) => {
        exit = { code, signal }
      })
      // 'close' comes after the exit and after the pipes are drained.
      child.on("close", () => {
        closed = true
      })
      const name = options.name ?? [path.basename(command), ...args].join(" ")
      const stdout = () => Buffer.concat(out)
      const stdoutText = () => stdout().toString("utf8")
      const stderr = () => err
      const text = (stream: "stdout" | "stderr") => (stream === "stdout" ? stdoutText() : stderr())
      const proc: Proc = {
        name,
        child,
        stdout,
        stdoutText,
        stderr,
        waitFor: (stream, pattern, timeout = "10 seconds") =>
          Effect.callback<RegExpMatchArray, ProcessError>((resume) => {
            const source = stream === "stdout" ? child.stdout : child.stderr
            const check = () => {
              const match = pattern.exec(text(stream))
              if (match !== null) {
                cleanup()
                resume(Effect.succeed(match))
              }
            }
            // The pipes may still deliver after the exit event: decide on 'close'.
            const onClose = () => {
              const match = pattern.exec(text(stream))
              cleanup()
              resume(
                match !== null
                  ? Effect.succeed(match)
                  : Effect.fail(
                      new ProcessError({ detail: `exited before ${stream} matched ${pattern}: ${describe(proc)}` })
                    )
              )
            }
            const cleanup = () => {
              source?.removeListener("data", check)
              child.removeListener("close", onClose)
            }
            source?.on("data", check)
            child.on("close", onClose)
            if (closed) onClose()
            else check()
            return Effect.sync(cleanup)
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(
                  new ProcessError({ detail: `timed out waiting for ${stream} to match ${pattern}: ${describe(proc)}` })
                )
            })
          ),
        exited: (timeout = "10 seconds") =>
          Effect.callback<Exited>((resume) => {
            const done = () => resume(Effect.succeed(exit ?? { code: child.exitCode, signal: child.signalCode }))
            if (closed) return done()
            child.once("close", done)
            return Effect.sync(() => child.removeListener("close", done))
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(new ProcessError({ detail: `timed out waiting for the exit: ${describe(proc)}` }))
            })
          ),
        write: (data) =>
          Effect.callback<void>((resume) => {
            if (child.stdin === null || child.stdin.destroyed) return resume(Effect.void)
            child.stdin.write(data, () => resume(Effect.void))
          }),
        endInput: Effect.sync(() => child.stdin?.end()),
        signal: (signal) => Effect.sync(() => void child.kill(signal))
      }
      return proc
    }),
    (proc) =>
      Effect.gen(function* () {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL")
        yield* Effect.ignore(proc.exited("5 seconds"))
      })
  )

/** Runs the `effect-tls` binary on the workspace's Node (vitest's own `process.execPath`). */
export const cli = (args: ReadonlyArray<string>, options: { readonly env?: NodeJS.ProcessEnv } = {}) =>
  run(process.execPath, [binPath, ...args], { name: `effect-tls ${args.join(" ")}`, ...options })

/** Runs the binary to its end, feeding `input` (then EOF) on stdin. */
export const cliToEnd = (
  args: ReadonlyArray<string>,
  input: string | Uint8Array = "",
  timeout: Duration.Input = "15 seconds"
) =>
  Effect.gen(function* () {
    const proc = yield* cli(args)
    if (input.length > 0) yield* proc.write(input)
    yield* proc.endInput
    const exit = yield* proc.exited(timeout)
    return { ...exit, stdout: proc.stdout(), stdoutText: proc.stdoutText(), stderr: proc.stderr() }
  })

/** A private temporary directory, removed with the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-tls-cli-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** PEM files of the test PKI: the root, and a certificate of the given kind with its chain and key. */
export const pemFiles = (dir: string, kind: CertificateAuthority.Kind, options?: CertificateAuthority.IssueOptions) =>
  Effect.gen(function* () {
    const pki = yield* CertificateAuthority.make()
    const issued = yield* pki.issue(kind, options)
    const prefix = path.join(dir, `${kind}-${issued.keyType}`)
    const files = { ca: path.join(dir, "root.pem"), cert: `${prefix}.chain.pem`, key: `${prefix}.key.pem` }
    fs.writeFileSync(files.ca, pki.root)
    fs.writeFileSync(files.cert, issued.chain)
    fs.writeFileSync(files.key, issued.key, { mode: 0o600 })
    return files
  })

/** A loopback port that nothing listens on (bound once, then closed). */
export const closedPort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * A loopback port for a peer that takes its port on the command line:
 * bound by the kernel, then released. Another process could take it in
 * between; the tests accept that small race, as every port-0-less tool needs.
 */
export const freePort = closedPort

/**
 * Starts `effect-tls serve` with `args` and waits for its `listening` line.
 * With no `--cert`, the ephemeral CA's file path is read from stderr.
 */
export const serve = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const proc = yield* cli(["serve", ...args])
    const [, host = "", port = ""] = yield* proc.waitFor("stdout", /^listening (\S+):(\d+)\n/m)
    const caPath = /ephemeral CA: (\S+)/.exec(proc.stderr())?.[1]
    return { proc, host, port: Number(port), address: `${host}:${port}`, caPath }
  })

/** Whether an executable is on PATH (the peers are Debian packages). */
export const has = (command: string): boolean =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, command)))

/** Bounds a whole test body, so that a hang is a failure with a message. */
export const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>, duration: Duration.Input = "40 seconds") =>
  Effect.timeoutOrElse(effect, {
    duration,
    orElse: () => Effect.die(new Error(`test body exceeded ${Duration.format(Duration.fromInputUnsafe(duration))}`))
  })
