/**
 * Shared helpers of the real-peer tests: child processes killed with the
 * scope, their output awaitable by pattern, temporary files, digit-only
 * payloads with their SHA-256, and a bridge into a network namespace for
 * peers that can only bind every address.
 *
 * Peers run in their own process group, so killing the group also ends the
 * children they fork (socat's per-connection processes).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as TlsConnection from "@effect-tls/core/TlsConnection"
import type { CertificateAuthority } from "@effect-tls/test"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"

/** Whether `command` is on the PATH. */
export const has = (command: string): boolean => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0

/** OpenSSL's and GnuTLS's command-line tools are installed. */
export const hasOpenssl = has("openssl") && has("stdbuf")
export const hasGnutls = has("gnutls-cli") && has("gnutls-serv")
/** A peer that binds every address can be put in a network namespace of its own and bridged out. */
export const hasNamespaces = has("unshare") && has("nsenter") && has("ip") && has("socat")

/** A running peer process. */
export interface Peer {
  readonly proc: ChildProcessWithoutNullStreams
  /** Everything the peer printed (stdout and stderr interleaved as they came, unless stdout is consumed). */
  readonly output: () => string
  /** What the peer printed on stdout alone (empty when stdout is consumed). */
  readonly stdout: () => string
  /** Where the output ends now: a `from` for `waitFor`. */
  readonly mark: () => number
  /** Waits (at most 10 seconds) until the output after `from` matches `count` times (default once). */
  readonly waitFor: (pattern: RegExp, from?: number, count?: number) => Effect.Effect<void, Error>
  /** Writes to the peer's stdin; completes when the pipe took it. */
  readonly send: (data: string | Uint8Array) => Effect.Effect<void>
  /** Ends the peer's stdin. */
  readonly endInput: Effect.Effect<void>
  /** Waits for the peer to exit (at most 10 seconds); its exit code, or null when killed. */
  readonly exited: Effect.Effect<number | null, Error>
}

export interface PeerOptions {
  /** Receives stdout instead of the text output (for bulk data). */
  readonly onStdout?: ((chunk: Buffer) => void) | undefined
  /** Drops stderr (a peer that copies every byte it reads there). */
  readonly ignoreStderr?: boolean | undefined
}

/** How far back a new chunk is rescanned, for a match split across chunks. */
const RESCAN = 512

/**
 * Spawns a peer in its own process group, killed (the whole group) when the
 * scope closes.
 */
export const spawnPeer = (
  command: string,
  args: ReadonlyArray<string>,
  options: PeerOptions = {}
): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const proc = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(command, args, { stdio: "pipe", detached: true })),
      (proc) =>
        Effect.callback<void>((resume) => {
          proc.stdin.destroy()
          if (proc.exitCode !== null || proc.signalCode !== null) {
            killGroup(proc)
            return resume(Effect.void)
          }
          proc.once("exit", () => resume(Effect.void))
          killGroup(proc)
        })
    )
    proc.stdin.on("error", () => {})
    let text = ""
    let stdoutText = ""
    const waiters = new Set<() => void>()
    const onText = (chunk: Buffer) => {
      text += chunk.toString("latin1")
      for (const waiter of waiters) waiter()
    }
    const onStdout = options.onStdout
    proc.stdout.on(
      "data",
      onStdout ??
        ((chunk: Buffer) => {
          stdoutText += chunk.toString("latin1")
          onText(chunk)
        })
    )
    if (options.ignoreStderr === true) proc.stderr.resume()
    else proc.stderr.on("data", onText)
    const exitWaiters = new Set<() => void>()
    proc.once("exit", () => {
      for (const waiter of exitWaiters) waiter()
    })
    const peer: Peer = {
      proc,
      output: () => text,
      stdout: () => stdoutText,
      mark: () => text.length,
      waitFor: (pattern, from = 0, count = 1) =>
        Effect.callback<void>((resume) => {
          const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`)
          // Invariant: matches before `consumed` are counted; a later match starts at or after it.
          let consumed = from
          let found = 0
          const check = () => {
            global.lastIndex = consumed
            for (let match = global.exec(text); match !== null; match = global.exec(text)) {
              found++
              consumed = global.lastIndex = match.index + Math.max(1, match[0].length)
            }
            // A match may be split across chunks: rescan a little of the tail next time.
            consumed = Math.max(consumed, text.length - RESCAN)
            if (found >= count) {
              waiters.delete(check)
              resume(Effect.void)
            }
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        }).pipe(
          Effect.timeoutOrElse({
            duration: "10 seconds",
            orElse: () =>
              Effect.fail(
                new Error(`${command} never printed ${pattern} ${count} times; it printed:\n${text.slice(-2000)}`)
              )
          })
        ),
      send: (data) =>
        Effect.callback<void>((resume) => {
          proc.stdin.write(data, () => resume(Effect.void))
        }),
      endInput: Effect.callback<void>((resume) => {
        proc.stdin.end(() => resume(Effect.void))
      }),
      exited: Effect.callback<number | null>((resume) => {
        const done = () => resume(Effect.succeed(proc.exitCode))
        if (proc.exitCode !== null || proc.signalCode !== null) return done()
        exitWaiters.add(done)
        return Effect.sync(() => exitWaiters.delete(done))
      }).pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.fail(new Error(`${command} did not exit; it printed:\n${text.slice(-2000)}`))
        })
      )
    }
    return peer
  })

const killGroup = (proc: ChildProcessWithoutNullStreams): void => {
  try {
    // A negative pid is the process group (detached: true made one).
    if (proc.pid !== undefined) process.kill(-proc.pid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

/** OpenSSL's s_server and s_client print with stdio: line-buffer stdout, or reports sit in a pipe buffer. */
export const openssl = (args: ReadonlyArray<string>, options?: PeerOptions) =>
  spawnPeer("stdbuf", ["-oL", "-eL", "openssl", ...args], options)

/** A temporary directory with these files, removed with the scope. */
export const tempDir = (files: Record<string, string | Uint8Array> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "effect-tls-interop-"))
      for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content)
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** The PEM files of a server or client certificate in `dir`: `<name>.pem` (chain), `<name>.key`, `ca.pem`. */
export const pemFiles = (name: string, issued: CertificateAuthority.Issued): Record<string, string> => ({
  [`${name}.pem`]: issued.chain,
  [`${name}-leaf.pem`]: issued.cert,
  [`${name}.key`]: issued.key,
  "ca.pem": issued.ca
})

/** A credential of the library from an issued certificate. */
export const credential = (issued: CertificateAuthority.Issued) => ({
  cert: issued.chain,
  key: Redacted.make(issued.key)
})

/** A free port on 127.0.0.1 (bound, then released). */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Waits until something listens on 127.0.0.1:`port`, probing with a TCP
 * connect every 20 ms, at most 250 times (for peers that print no ready line;
 * the peer sees one aborted connection per probe).
 */
export const waitForPort = (port: number): Effect.Effect<void, Error> =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 250; attempt++) {
      const open = yield* Effect.callback<boolean>((resume) => {
        const socket = net.connect({ host: "127.0.0.1", port })
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
    return yield* Effect.fail(new Error(`nothing listens on 127.0.0.1:${port}`))
  })

/** Bytes of one payload line: 63 decimal digits and a newline. 16 KiB holds 256 of them. */
export const LINE = 64

/**
 * `size` bytes (a multiple of `LINE`) of digit lines: no byte is a command
 * letter of s_server, s_client or gnutls-cli, nor a NUL (gnutls-serv's echo is
 * string-based), and the content is random, so a lost, duplicated or
 * reordered record changes the checksum.
 */
export const digitLines = (size: number): Buffer => {
  const bytes = randomBytes(size)
  for (let i = 0; i < size; i++) {
    bytes[i] = i % LINE === LINE - 1 ? 0x0a : 0x30 + ((bytes[i] ?? 0) % 10)
  }
  return bytes
}

export const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

/** A payload of `parts` pieces of `partSize` bytes, with the SHA-256 of the whole. */
export const payload = (parts: number, partSize: number) => {
  const pieces = Array.from({ length: parts }, () => digitLines(partSize))
  const hash = createHash("sha256")
  for (const piece of pieces) hash.update(piece)
  return { pieces, size: parts * partSize, sha256: hash.digest("hex") }
}

/** Reads at most `limit` bytes, or until the end: byte count and SHA-256. */
export const readHashed = (connection: TlsConnection.TlsConnection, limit: number) =>
  Effect.gen(function* () {
    const hash = createHash("sha256")
    let bytes = 0
    let ended = false
    // Bounded: at most one iteration per byte, and records carry up to 16 KiB.
    for (let i = 0; i < limit + 1 && bytes < limit; i++) {
      const chunk = yield* connection.reader.read
      if (Option.isNone(chunk)) {
        ended = true
        break
      }
      hash.update(chunk.value)
      bytes += chunk.value.length
    }
    return { bytes, sha256: hash.digest("hex"), ended }
  })

/** A streaming SHA-256 of what a peer prints, for `onStdout`. */
export const hashSink = () => {
  const hash = createHash("sha256")
  const state = { bytes: 0 }
  const waiters = new Set<() => void>()
  return {
    onStdout: (chunk: Buffer) => {
      hash.update(chunk)
      state.bytes += chunk.length
      for (const waiter of waiters) waiter()
    },
    bytes: () => state.bytes,
    /** Waits until `size` bytes arrived (at most `timeout`), then the SHA-256 of them. */
    digest: (size: number, timeout: string) =>
      Effect.callback<string>((resume) => {
        const check = () => {
          if (state.bytes >= size) {
            waiters.delete(check)
            resume(Effect.succeed(hash.digest("hex")))
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeout as `${number} seconds`,
          orElse: () => Effect.fail(new Error(`the peer printed ${state.bytes} of ${size} bytes`))
        })
      )
  }
}

/**
 * The payload lines in a peer's output, without what it printed between
 * records (s_server and s_client print their reports on stdout too). Data
 * written in 16 KiB writes arrives in whole records of whole lines, so
 * reports fall between lines.
 */
export const payloadLines = (output: string): Buffer => {
  const lines = output.match(/^[0-9]{63}$/gm) ?? []
  return Buffer.from(lines.map((line) => `${line}\n`).join(""), "latin1")
}

/** Writes the pieces in order; fails with the first error. */
export const writePieces = (connection: TlsConnection.TlsConnection, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(pieces, (piece) => connection.writer.write(piece), { discard: true })

/**
 * A peer server that binds every address, run in a network namespace of its
 * own: `socat` (entered into the namespace) carries each connection from a
 * Unix socket in `dir` to `innerPort`, and a TCP listener on 127.0.0.1 here
 * forwards to that socket. Returns the peer and the local port.
 */
export const namespacedServer = (
  dir: string,
  shellCommand: string,
  ready: RegExp,
  innerPort: number,
  options?: PeerOptions
): Effect.Effect<{ readonly peer: Peer; readonly port: number }, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const peer = yield* spawnPeer("unshare", ["-n", "sh", "-c", `ip link set lo up && exec ${shellCommand}`], options)
    yield* peer.waitFor(ready)
    const path = join(dir, "bridge.sock")
    const bridge = yield* spawnPeer("nsenter", [
      "-t",
      String(peer.proc.pid),
      "-n",
      "socat",
      "-d",
      "-d",
      `UNIX-LISTEN:${path},fork`,
      `TCP:127.0.0.1:${innerPort}`
    ])
    yield* bridge.waitFor(/listening on/)
    const port = yield* unixForwarder(path)
    return { peer, port }
  })

/** A TCP listener on 127.0.0.1 whose connections are piped (half-closes too) to a Unix socket. */
const unixForwarder = (path: string): Effect.Effect<number, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<net.Socket>()
    const server = net.createServer({ allowHalfOpen: true }, (down) => {
      const up = net.connect({ path, allowHalfOpen: true })
      for (const socket of [down, up]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {
          down.destroy()
          up.destroy()
        })
      }
      down.pipe(up)
      up.pipe(down)
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    return (server.address() as net.AddressInfo).port
  })
