/**
 * Real peers for interop tests: another TLS stack's command-line tool
 * (`openssl s_server` or `s_client`, `gnutls-serv` or `gnutls-cli`, `swaks`,
 * `socat`) or any command, run as a scoped resource.
 *
 * A peer runs in a process group of its own. Its output is captured and can
 * be awaited by pattern; its stdin takes writes; its exit can be awaited.
 * Every wait is bounded (10 seconds unless the peer was started with another
 * `timeout`) and fails with a {@link PeerError} that quotes what the peer
 * printed. When the scope closes, the whole group gets SIGTERM, then SIGKILL
 * (when the peer exits, for what it forked, or after `killTimeout`, 2 seconds,
 * if it does not), and the peer is reaped: nothing it forked outlives the
 * test. Only the group the peer leads is ever signalled, and only while its id
 * is known to be the peer's: a peer that exited on its own is left alone.
 *
 * A peer that can only bind every address runs in a network namespace of its
 * own ({@link namespaced}), reached through a bridge to 127.0.0.1 or by
 * commands started inside it: nothing listens outside loopback.
 *
 * Tests skip, with the reason in their name, when a tool is missing:
 * `describe.skipIf(!Peer.available("gnutls-cli"))("... (needs gnutls-cli)", ...)`.
 *
 * @example
 * ```ts
 * import * as CertificateAuthority from "@effect-tls/test/CertificateAuthority"
 * import * as Peer from "@effect-tls/test/Peer"
 * import * as TempFiles from "@effect-tls/test/TempFiles"
 * import * as Effect from "effect/Effect"
 *
 * // `openssl s_server` on 127.0.0.1 (a port of the kernel's choice), for one connection;
 * // a client of yours connects to `server.port`, then:
 * export const sServer = Effect.gen(function* () {
 *   const files = yield* TempFiles.pem(yield* CertificateAuthority.issueServer())
 *   const server = yield* Peer.opensslServer({ files, args: ["-tls1_3"] })
 *   // ... connect to server.port and write "hello\n" ...
 *   yield* server.waitFor(/hello/)
 *   return server.output()
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as net from "node:net"
import * as path from "node:path"
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as loopback from "./internal/loopback.ts"
import * as internal from "./internal/peer.ts"
import * as TempFiles from "./TempFiles.ts"

/** The fields of a reason of a {@link PeerError}. */
interface PeerReasonFields {
  /** What happened, quoting the end of the peer's stdout and stderr. */
  readonly detail: string
  /** The original error, if any. */
  readonly cause?: unknown
}

/** A reason class's constructor, named so that declarations of its subclasses can be emitted. */
type PeerReasonClass<Tag extends string> = new (
  fields: PeerReasonFields
) => Cause.YieldableError & { readonly _tag: Tag } & Readonly<PeerReasonFields>

/** The base of the reasons of a {@link PeerError}: a tagged error whose message is its detail. */
const PeerReason = <Tag extends string>(tag: Tag): PeerReasonClass<Tag> =>
  class extends Data.TaggedError(tag)<PeerReasonFields> {
    override get message(): string {
      return this.detail
    }
  }

/**
 * The command could not run (not installed, not executable).
 *
 * @since 0.1.0
 * @category reasons
 */
export class Spawn extends PeerReason("Spawn") {}

/**
 * A wait on the peer passed its bound.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Timeout extends PeerReason("Timeout") {}

/**
 * The peer's output ended (it exited) before the pattern matched.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Exited extends PeerReason("Exited") {}

/**
 * Why a peer failed.
 *
 * @since 0.1.0
 * @category models
 */
export type PeerFailureReason = Spawn | Timeout | Exited

/**
 * A peer could not be started, or a wait on it did not end as expected; the
 * `reason` says which (a tagged class, so `Effect.catchReason("PeerError",
 * "Timeout", ...)` matches it), with the original error as `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class PeerError extends Data.TaggedError("PeerError")<{
  readonly reason: PeerFailureReason
  readonly cause?: unknown
}> {
  constructor(props: { readonly reason: PeerFailureReason }) {
    super(props.reason.cause === undefined ? props : { ...props, cause: props.reason.cause })
  }
  override get message(): string {
    return `${this.reason._tag}: ${this.reason.detail}`
  }
}

/**
 * How a peer ended: its exit code, or the signal that ended it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * Where a wait looks: the peer's stdout, its stderr, or both interleaved as
 * they came (`output`).
 *
 * @since 0.1.0
 * @category models
 */
export type OutputStream = "stdout" | "stderr" | "output"

/**
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** Default `output`. */
  readonly stream?: OutputStream | undefined
  /** Where to start looking: a {@link Peer.mark} of the same stream. Default 0, the start. */
  readonly from?: number | undefined
  /** Wait for this many matches after `from`. Default 1. */
  readonly count?: number | undefined
  /** The bound of this wait. Default: the peer's `timeout`. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /** How errors name the peer. Default: the command line. */
  readonly name?: string | undefined
  /** The environment. Default: this process's. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /** The working directory. Default: this process's. */
  readonly cwd?: string | undefined
  /**
   * `capture` (the default) keeps stdout for {@link Peer.stdout} and the
   * waits; a function receives every chunk instead (bulk data: nothing is kept).
   */
  readonly stdout?: "capture" | ((chunk: Buffer) => void) | undefined
  /** `capture` (the default), or `ignore` (read and dropped: a peer that copies its input there). */
  readonly stderr?: "capture" | "ignore" | undefined
  /** The default bound of every wait on this peer. Default 10 seconds. */
  readonly timeout?: Duration.Input | undefined
  /** How long the group has between SIGTERM and SIGKILL when the scope closes. Default 2 seconds. */
  readonly killTimeout?: Duration.Input | undefined
}

/**
 * A running peer.
 *
 * Text is decoded as Latin-1, one character per byte, so that
 * `Buffer.from(text, "latin1")` gives back the bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Peer {
  readonly name: string
  /** The process id, also the id of the process group it leads. */
  readonly pid: number
  /** Everything printed on stdout and stderr so far, interleaved as it came. */
  readonly output: () => string
  /** The bytes printed on stdout so far (none when stdout goes to a function). */
  readonly stdout: () => Buffer
  /** What was printed on stdout so far, as text. */
  readonly stdoutText: () => string
  /** What was printed on stderr so far. */
  readonly stderr: () => string
  /** Where a stream's text ends now (default `output`): a `from` for {@link WaitOptions}. */
  readonly mark: (stream?: OutputStream) => number
  /**
   * Waits until the stream's text after `from` matched `pattern` `count`
   * times; the last match. Fails when the bound passes or the peer's output
   * ends first. A match split across chunks is found.
   */
  readonly waitFor: (pattern: RegExp, options?: WaitOptions) => Effect.Effect<RegExpExecArray, PeerError>
  /** Writes to the peer's stdin; completes when the pipe took it (at once if stdin is closed). */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  /** Ends the peer's stdin. */
  readonly endInput: Effect.Effect<void>
  /** Stops reading the peer's stdout: once the pipe is full, the peer blocks in its writes. */
  readonly pauseStdout: Effect.Effect<void>
  /** Reads the peer's stdout again. */
  readonly resumeStdout: Effect.Effect<void>
  /** Sends `signal` to the peer's process (not its group); nothing once it exited. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits, within the peer's `timeout`, until it exited and its output is complete. */
  readonly exited: Effect.Effect<ExitStatus, PeerError>
}

/**
 * Starts `command` in a process group of its own, stopped with the scope
 * (see the module's description). Fails with `Spawn` if it cannot run.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start: (
  command: string,
  args: ReadonlyArray<string>,
  options?: StartOptions
) => Effect.Effect<Peer, PeerError, Scope.Scope> = internal.start

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends StartOptions {
  /** Written to stdin, which is then ended. Default: nothing. */
  readonly input?: string | Uint8Array | undefined
}

/**
 * A peer run to its end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completed extends ExitStatus {
  readonly stdout: Buffer
  readonly stdoutText: string
  readonly stderr: string
  readonly output: string
}

/**
 * Runs `command` to its end, with `input` on stdin: its exit and everything
 * it printed. Fails with `Timeout` when it does not end within the
 * `timeout`; it is stopped either way.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run: (
  command: string,
  args: ReadonlyArray<string>,
  options?: RunOptions
) => Effect.Effect<Completed, PeerError> = internal.run

/**
 * Whether every one of `commands` is an executable on the `PATH`.
 *
 * @since 0.1.0
 * @category utils
 */
export const available = (...commands: ReadonlyArray<string>): boolean => internal.available(commands)

/**
 * Waits until something listens on `host`:`port` (default 127.0.0.1), for a
 * peer that prints no line when it is ready: a TCP connect every 20 ms, 250
 * at most (the peer sees one aborted connection per probe).
 *
 * @since 0.1.0
 * @category utils
 */
export const waitForPort: (port: number, host?: string) => Effect.Effect<void, PeerError> = internal.waitForPort

// -----------------------------------------------------------------------------
// OpenSSL and GnuTLS
// -----------------------------------------------------------------------------

/**
 * `openssl` with `args`, its stdout and stderr line-buffered by `stdbuf`
 * (`s_server` and `s_client` print through stdio: without it their reports
 * sit in the pipe's buffer). Needs `openssl` and `stdbuf` (coreutils).
 *
 * @since 0.1.0
 * @category constructors
 */
export const openssl = (
  args: ReadonlyArray<string>,
  options?: StartOptions
): Effect.Effect<Peer, PeerError, Scope.Scope> =>
  start("stdbuf", ["-oL", "-eL", "openssl", ...args], {
    ...options,
    name: options?.name ?? ["openssl", ...args].join(" ")
  })

/**
 * A peer server and the port it listens on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server extends Peer {
  readonly port: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface OpensslServerOptions extends StartOptions {
  /** The certificate it serves (`-cert`, `-cert_chain`, `-key`). */
  readonly files: TempFiles.PemFiles
  /** More arguments of `s_server`. */
  readonly args?: ReadonlyArray<string> | undefined
}

/**
 * `openssl s_server` for one connection (`-naccept 1`) on 127.0.0.1, on a
 * port the kernel chose, serving `files`; ready (its `ACCEPT` line printed)
 * when this completes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const opensslServer = (options: OpensslServerOptions): Effect.Effect<Server, PeerError, Scope.Scope> =>
  Effect.gen(function* () {
    const { files, args = [], ...startOptions } = options
    const peer = yield* openssl(
      [
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-naccept",
        "1",
        "-cert",
        files.cert,
        "-cert_chain",
        files.chain,
        "-key",
        files.key,
        ...args
      ],
      startOptions
    )
    const accept = yield* peer.waitFor(/^ACCEPT \S+:(\d+)$/m, { stream: "stdout" })
    return { ...peer, port: Number(accept[1]) }
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends StartOptions {
  readonly port: number
  /** Default 127.0.0.1. */
  readonly host?: string | undefined
  /** The file of the root to trust. */
  readonly ca?: string | undefined
  /** More arguments of the client. */
  readonly args?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface OpensslClientOptions extends ClientOptions {
  /** The SNI name to send (`-servername`). Default: none. */
  readonly servername?: string | undefined
  /** Fail the handshake when the server's certificate does not verify (`-verify_return_error`). Default true. */
  readonly verify?: boolean | undefined
}

/**
 * `openssl s_client` connecting to `host`:`port`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const opensslClient = (options: OpensslClientOptions): Effect.Effect<Peer, PeerError, Scope.Scope> => {
  const { port, host = "127.0.0.1", ca, servername, verify = true, args = [], ...startOptions } = options
  return openssl(
    [
      "s_client",
      "-connect",
      net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
      ...(servername === undefined ? [] : ["-servername", servername]),
      ...(ca === undefined ? [] : ["-CAfile", ca]),
      ...(verify ? ["-verify_return_error"] : []),
      ...args
    ],
    startOptions
  )
}

/**
 * `gnutls-cli` connecting to `host`:`port`. It sends the host as its SNI
 * name and verifies the certificate against it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gnutlsClient = (options: ClientOptions): Effect.Effect<Peer, PeerError, Scope.Scope> => {
  const { port, host = "127.0.0.1", ca, args = [], ...startOptions } = options
  return start(
    "gnutls-cli",
    ["-p", String(port), ...(ca === undefined ? [] : ["--x509cafile", ca]), ...args, host],
    startOptions
  )
}

// -----------------------------------------------------------------------------
// network namespaces
// -----------------------------------------------------------------------------

/**
 * A peer in a network namespace of its own, with only a loopback interface.
 *
 * @since 0.1.0
 * @category models
 */
export interface Namespaced extends Peer {
  /**
   * A port on 127.0.0.1 out here whose connections (half-closes included) are
   * carried to `port` on the namespace's loopback, until the scope closes.
   * Needs `socat`.
   */
  readonly bridge: (port: number) => Effect.Effect<number, PeerError, Scope.Scope>
  /** Starts a command inside the peer's network namespace. */
  readonly enter: (
    command: string,
    args: ReadonlyArray<string>,
    options?: StartOptions
  ) => Effect.Effect<Peer, PeerError, Scope.Scope>
}

/**
 * Starts `command` in a new network namespace (`unshare -n`, its loopback
 * up), for a peer that binds every address. Needs `unshare`, `nsenter` and
 * `ip`, and the privilege to make a namespace.
 *
 * @since 0.1.0
 * @category constructors
 */
export const namespaced = (
  command: string,
  args: ReadonlyArray<string>,
  options?: StartOptions
): Effect.Effect<Namespaced, PeerError, Scope.Scope> =>
  Effect.gen(function* () {
    const peer = yield* start("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", command, ...args], {
      ...options,
      name: options?.name ?? [path.basename(command), ...args].join(" ")
    })
    const enter = (inner: string, innerArgs: ReadonlyArray<string>, innerOptions?: StartOptions) =>
      start("nsenter", [`--net=/proc/${peer.pid}/ns/net`, "--", inner, ...innerArgs], {
        ...innerOptions,
        name: innerOptions?.name ?? [path.basename(inner), ...innerArgs].join(" ")
      })
    const bridge = (port: number) =>
      Effect.gen(function* () {
        const dir = yield* TempFiles.directory()
        const socket = path.join(dir, "bridge.sock")
        const socat = yield* enter("socat", ["-d", "-d", `UNIX-LISTEN:${socket},fork`, `TCP:127.0.0.1:${port}`])
        yield* socat.waitFor(/listening on/)
        return yield* loopback.forwarder(() => net.connect({ path: socket, allowHalfOpen: true }))
      })
    const isolated: Namespaced = { ...peer, bridge, enter }
    return isolated
  })

/**
 * A peer server in a network namespace, and the port it listens on there.
 *
 * @since 0.1.0
 * @category models
 */
export interface NamespacedServer extends Namespaced {
  /** The port it listens on inside its namespace (`bridge` it, or `enter` the namespace). */
  readonly innerPort: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GnutlsServerOptions extends StartOptions {
  /** The certificate it serves (`--x509certfile` the chain, `--x509keyfile`). */
  readonly files: TempFiles.PemFiles
  /** More arguments of `gnutls-serv`. */
  readonly args?: ReadonlyArray<string> | undefined
}

/**
 * `gnutls-serv --echo` serving `files`, in a network namespace of its own
 * ({@link namespaced}; it binds every address), ready when this completes.
 * It echoes every line it reads.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gnutlsEchoServer = (
  options: GnutlsServerOptions
): Effect.Effect<NamespacedServer, PeerError, Scope.Scope> =>
  Effect.gen(function* () {
    const { files, args = [], ...startOptions } = options
    const innerPort = 4433
    const peer = yield* namespaced(
      "gnutls-serv",
      ["--echo", "-p", String(innerPort), "--x509certfile", files.chain, "--x509keyfile", files.key, ...args],
      startOptions
    )
    yield* peer.waitFor(/listening on IPv4 .*done/, { stream: "stderr" })
    return { ...peer, innerPort }
  })
