/**
 * The `effect-tls` binary as a subprocess for the command-line tests, a
 * scoped resource of the test kit (`Peer`: stopped, with everything it
 * forked, when the test's scope closes; every wait on an event and bounded),
 * and the PEM files its flags take.
 */
import * as path from "node:path"
import { it } from "@effect/vitest"
import * as CertificateAuthority from "@effect-tls/test/CertificateAuthority"
import * as Peer from "@effect-tls/test/Peer"
import * as TempFiles from "@effect-tls/test/TempFiles"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** The launcher of the `effect-tls` bin. */
export const binPath = path.join(import.meta.dirname, "..", "bin", "effect-tls.js")

/** Runs the `effect-tls` binary on the workspace's Node (vitest's own `process.execPath`). */
export const cli = (args: ReadonlyArray<string>, options: Peer.StartOptions = {}) =>
  Peer.start(process.execPath, [binPath, ...args], { name: `effect-tls ${args.join(" ")}`, ...options })

/** Runs the binary to its end, feeding `input` (then EOF) on stdin, within `timeout`. */
export const cliToEnd = (
  args: ReadonlyArray<string>,
  input: string | Uint8Array = "",
  timeout: Duration.Input = "15 seconds"
) => Peer.run(process.execPath, [binPath, ...args], { name: `effect-tls ${args.join(" ")}`, input, timeout })

/**
 * PEM files of a certificate of the given kind from the test PKI, in a
 * temporary directory of their own: its chain, leaf and key, and the PKI's
 * root as `ca`.
 */
export const pemFiles = (kind: CertificateAuthority.Kind, options?: CertificateAuthority.IssueOptions) =>
  Effect.flatMap(CertificateAuthority.issue(kind, options), (issued) => TempFiles.pem(issued))

/**
 * Starts `effect-tls serve` with `args` and waits for its `listening` line.
 * With no `--cert`, the ephemeral CA's file path is read from stderr.
 */
export const serve = (args: ReadonlyArray<string>, options?: Peer.StartOptions) =>
  Effect.gen(function* () {
    const proc = yield* cli(["serve", ...args], options)
    const [, host = "", port = ""] = yield* proc.waitFor(/^listening (\S+):(\d+)\n/m, { stream: "stdout" })
    const caPath = /ephemeral CA: (\S+)/.exec(proc.stderr())?.[1]
    return { proc, host, port: Number(port), address: `${host}:${port}`, caPath }
  })

/** Bounds a whole test body, so that a hang is a failure with a message. */
export const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>, duration: Duration.Input = "40 seconds") =>
  Effect.timeoutOrElse(effect, {
    duration,
    orElse: () => Effect.die(new Error(`test body exceeded ${Duration.format(Duration.fromInputUnsafe(duration))}`))
  })

/** A test whose body is bounded and runs in a scope of its own, which stops its processes when it ends. */
export const live = (name: string, body: Effect.Effect<unknown, unknown, Scope.Scope>) =>
  it.live(name, () => bounded(Effect.scoped(body)))

/** `effect-tls serve` with the certificate of `files` and `args`. */
export const serveWith = (files: TempFiles.PemFiles, args: ReadonlyArray<string> = []) =>
  serve(["--cert", files.chain, "--key", files.key, ...args])

/** `effect-tls connect` to `server`, trusting its ephemeral CA, run to its end with `input`. */
export const connectTo = (
  server: { readonly address: string; readonly caPath: string | undefined },
  args: ReadonlyArray<string> = [],
  input: string | Uint8Array = ""
) => cliToEnd(["connect", server.address, "--ca", server.caPath ?? "", ...args], input)
