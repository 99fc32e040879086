/**
 * The packages as an application gets them: packed with `pnpm pack` (which
 * builds each one from scratch), checked with publint and
 * arethetypeswrong, installed with npm in a fresh project in a temporary
 * folder outside the workspace, type-checked in `nodenext` and `bundler`
 * resolution, run on the Node 24 the project brings, on Node 22.19 (the
 * lowest the packages accept, the npm `node` package), on Bun and on Deno
 * (each refusing the paths it cannot run, see docs/runtimes.md), and the installed
 * `effect-tls` command run and stopped by SIGTERM.
 *
 * Every subprocess runs in a process group of its own, with a time limit
 * after which the group is killed; whatever still runs when the file ends is
 * killed by pid, and the temporary folder (npm's cache included) is removed.
 * The subprocesses get the environment a user's shell would have: no pnpm or
 * npm lifecycle variables, and a PATH without the workspace's bin folders.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as tls from "node:tls"
import { gzipSync } from "node:zlib"
import { publint } from "publint"
import { formatMessage } from "publint/utils"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const fixture = path.join(import.meta.dirname, "..", "fixture")
/** The published packages: every other workspace package is private. */
const published = ["core", "node", "test", "cli"] as const
type Published = (typeof published)[number]
/** The lowest Node the packages accept (`engines`), from the npm `node` package. */
const NODE_22 = "22.19.0"

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, "utf8"))
const versionOf = (name: string): string =>
  String(readJson(path.join(root, "node_modules", name, "package.json")).version)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-tls-consumer-"))
const tarballs = path.join(tmp, "tarballs")
const app = path.join(tmp, "app")
const node22Dir = path.join(tmp, "node22")
/** The Node the project brings: the test runs on it. */
const node24 = process.execPath
const node22 = path.join(node22Dir, "node_modules", "node", "bin", "node")
/** Bun and Deno, from the root's devDependencies (the npm registry's `@oven/bun-linux-x64`, `@deno/linux-x64-glibc`). */
const bun = path.join(root, "node_modules", "@oven", "bun-linux-x64", "bin", "bun")
const deno = path.join(root, "node_modules", "@deno", "linux-x64-glibc", "deno")

// -----------------------------------------------------------------------------
// subprocesses
// -----------------------------------------------------------------------------

interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

const running = new Set<ChildProcess>()

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

/** Spawns a process as the leader of a process group of its own. */
const start = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env: NodeJS.ProcessEnv }) => {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] })
  running.add(child)
  child.on("exit", () => running.delete(child))
  return child
}

/** What a child prints on stdout and stderr, so far; `onOutput` hears of every chunk. */
const capture = (child: ChildProcess) => {
  const text = { stdout: "", stderr: "" }
  const listeners = new Set<() => void>()
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]?.on("data", (chunk: Buffer) => {
      text[stream] += chunk.toString("utf8")
      for (const listener of listeners) listener()
    })
  }
  return {
    text,
    onOutput: (listener: () => void) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }
}

/** Runs a command to its end, or kills its group after `timeout` ms. */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv; readonly timeout: number }
) =>
  new Promise<Ran>((resolve) => {
    const started = performance.now()
    const child = start(command, args, options)
    const { text } = capture(child)
    const timer = setTimeout(() => {
      text.stderr += `\n[killed after ${options.timeout} ms]`
      killGroup(child, "SIGKILL")
    }, options.timeout)
    child.on("error", (error) => {
      text.stderr += `\n[${error.message}]`
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: text.stdout, stderr: text.stderr, ms: performance.now() - started })
    })
  })

const describeRun = (what: string, ran: Ran) =>
  `${what}: exit ${ran.code} ${ran.signal ?? ""}\n--- stdout ---\n${ran.stdout.slice(-3000)}\n--- stderr ---\n${ran.stderr.slice(-3000)}`

const expectSuccess = (what: string, ran: Ran) => {
  assert.strictEqual(ran.code, 0, describeRun(what, ran))
  return ran
}

/** PATH without the workspace's folders (its `node_modules/.bin` holds pnpm's `node` shim and the workspace's bins). */
const systemPath = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((dir) => dir !== "" && !dir.startsWith(root) && !dir.split(path.sep).includes("node_modules"))

/** A user's shell environment with `node` (when given) first on PATH, and npm's cache in the temporary folder. */
const userEnv = (node?: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|vitest|tsc_)|^(node_path|node_options|node|node_env|init_cwd|test|force_color)$/i.test(key))
      continue
    env[key] = value
  }
  env.PATH = [...(node === undefined ? [] : [path.dirname(node)]), ...systemPath].join(path.delimiter)
  env.npm_config_cache = path.join(tmp, "npm-cache")
  env.npm_config_update_notifier = "false"
  env.npm_config_audit = "false"
  env.npm_config_fund = "false"
  return env
}

const which = (command: string): string | undefined =>
  systemPath.map((dir) => path.join(dir, command)).find((file) => fs.existsSync(file))

/** npm as the user has it, run by Node 24 (`#!/usr/bin/env node` finds the Node first on PATH). */
const npm = (args: ReadonlyArray<string>, cwd: string, timeout = 180_000) => {
  const command = which("npm")
  assert.isDefined(command, "npm is on PATH")
  return run(command ?? "npm", args, { cwd, env: userEnv(node24), timeout })
}

/** pnpm as `pnpm test` runs it, or the project's pinned pnpm through npx. */
const pnpm = (args: ReadonlyArray<string>, timeout: number) => {
  const execPath = process.env.npm_execpath
  if (execPath !== undefined && /pnpm/.test(execPath)) {
    return run(node24, [execPath, ...args], { cwd: root, env: process.env, timeout })
  }
  const pinned = String(readJson(path.join(root, "package.json")).packageManager)
  return run("npx", ["--yes", pinned, ...args], { cwd: root, env: process.env, timeout })
}

// -----------------------------------------------------------------------------
// set-up
// -----------------------------------------------------------------------------

const tarball = (pkg: Published) => path.join(tarballs, `effect-tls-${pkg}-${versionOf(`@effect-tls/${pkg}`)}.tgz`)

/** The public modules of a package: every file of `src/` but the index (which is `.`). */
const publicModules = (pkg: Published): ReadonlyArray<string> =>
  fs
    .readdirSync(path.join(root, "packages", pkg, "src"), { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && entry.name !== "index.ts")
    .map((entry) => `./${entry.name.slice(0, -".ts".length)}`)

let node22Install: Promise<Ran>

beforeAll(async () => {
  fs.mkdirSync(app)
  fs.mkdirSync(node22Dir)
  fs.writeFileSync(path.join(node22Dir, "package.json"), JSON.stringify({ name: "node22", private: true }))
  // Downloading Node 22 needs no tarball: it runs while pnpm packs.
  node22Install = npm(["install", `node@${NODE_22}`], node22Dir)
  const filter = `--filter=./packages/{${published.join(",")}}`
  expectSuccess("pnpm pack", await pnpm(["--recursive", filter, "pack", "--pack-destination", tarballs], 180_000))
}, 240_000)

afterAll(() => {
  for (const child of running) killGroup(child, "SIGKILL")
  fs.rmSync(tmp, { recursive: true, force: true })
})

// -----------------------------------------------------------------------------
// tests
// -----------------------------------------------------------------------------

describe("the published packages", () => {
  it("publint finds nothing to report in any tarball", async () => {
    for (const pkg of published) {
      const data = fs.readFileSync(tarball(pkg))
      const bytes = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
      const result = await publint({ pack: { tarball: bytes }, level: "suggestion", strict: true })
      const messages = result.messages.map((message) => `${message.type}: ${formatMessage(message, result.pkg)}`)
      assert.deepStrictEqual(messages, [], `publint @effect-tls/${pkg}`)
    }
    console.log(`publint ${versionOf("publint")}: no errors, warnings or suggestions for ${published.join(", ")}`)
  })

  it("arethetypeswrong finds no problem with any entry point (ESM-only profile)", async () => {
    const attwPackage = path.join(root, "node_modules", "@arethetypeswrong", "cli")
    const bin = (readJson(path.join(attwPackage, "package.json")).bin as Record<string, string>).attw ?? ""
    const results = await Promise.all(
      published.map((pkg) => {
        const entrypoints = [".", ...publicModules(pkg)]
        const args = [
          path.join(attwPackage, bin),
          tarball(pkg),
          "--profile",
          "esm-only",
          "--entrypoints",
          ...entrypoints
        ]
        return run(node24, [...args, "--format", "ascii", "--no-color", "--no-emoji"], {
          cwd: tmp,
          env: process.env,
          timeout: 60_000
        }).then((ran) => ({ pkg, entrypoints, ran }))
      })
    )
    for (const { pkg, entrypoints, ran } of results) {
      expectSuccess(`attw @effect-tls/${pkg}`, ran)
      console.log(
        `attw ${versionOf("@arethetypeswrong/cli")} @effect-tls/${pkg}: ${entrypoints.join(" ")}: no problems`
      )
    }
  })

  it("prints the size of each package", () => {
    const rows = published.map((pkg) => {
      const dist = path.join(root, "packages", pkg, "dist")
      const files = fs.readdirSync(dist, { recursive: true, encoding: "utf8" }).map((file) => path.join(dist, file))
      const size = (suffix: string) =>
        files.filter((file) => file.endsWith(suffix)).reduce((sum, file) => sum + fs.statSync(file).size, 0)
      const gzip = files
        .filter((file) => file.endsWith(".js"))
        .reduce((sum, file) => sum + gzipSync(fs.readFileSync(file)).length, 0)
      return {
        package: `@effect-tls/${pkg}`,
        "tarball KiB": kib(fs.statSync(tarball(pkg)).size),
        "dist .js KiB": kib(size(".js")),
        ".js gzip KiB": kib(gzip),
        ".d.ts KiB": kib(size(".d.ts")),
        "maps KiB": kib(size(".map"))
      }
    })
    console.log(`bundle sizes (dist of each package; gzip per file)\n${table(rows)}`)
  })
})

describe("an application installs the tarballs with npm", () => {
  it("installs them with effect and @effect/platform-node from the registry: one copy of Effect", async () => {
    fs.writeFileSync(
      path.join(app, "package.json"),
      JSON.stringify({ name: "effect-tls-consumer", version: "0.0.0", private: true, type: "module" }, null, 2)
    )
    for (const file of fs.readdirSync(fixture)) fs.copyFileSync(path.join(fixture, file), path.join(app, file))
    // The README's quickstart, as the README shows it.
    fs.copyFileSync(path.join(root, "docs", "examples", "quickstart.ts"), path.join(app, "quickstart.ts"))
    const registry = [
      `effect@${versionOf("effect")}`,
      `@effect/platform-node@${versionOf("@effect/platform-node")}`,
      `@types/node@${versionOf("@types/node")}`
    ]
    const ran = expectSuccess(
      "npm install",
      await npm(["install", ...published.map((pkg) => tarball(pkg)), ...registry], app)
    )
    console.log(`npm install: ${(ran.ms / 1000).toFixed(1)} s`)
    const installed = (name: string) => path.join(app, "node_modules", name)
    for (const pkg of published) {
      const manifest = readJson(path.join(installed(`@effect-tls/${pkg}`), "package.json"))
      assert.strictEqual(manifest.version, versionOf(`@effect-tls/${pkg}`))
      // The tarball's own files, not a namesake from the registry.
      assert.isTrue(fs.existsSync(path.join(installed(`@effect-tls/${pkg}`), "dist", "index.js")), pkg)
    }
    const copies = findPackages(path.join(app, "node_modules"), "effect")
    assert.deepStrictEqual(copies, [installed("effect")], "one copy of effect")
  }, 240_000)

  it("internal modules are unreachable", async () => {
    const probe = [
      `import("@effect-tls/node/internal/context")`,
      `.then(() => console.log("reachable"), (error) => console.log(error.code))`
    ].join("")
    const ran = expectSuccess(
      "import an internal",
      await run(node24, ["--input-type=module", "-e", probe], {
        cwd: app,
        env: userEnv(node24),
        timeout: 30_000
      })
    )
    assert.strictEqual(ran.stdout.trim(), "ERR_PACKAGE_PATH_NOT_EXPORTED")
  })

  it("type-checks the application in nodenext and bundler resolution, the declarations included", async () => {
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
    const [nodenext, bundler] = await Promise.all(
      ["nodenext", "bundler"].map((mode) =>
        run(node24, [tsc, "-p", `tsconfig.${mode}.json`], { cwd: app, env: userEnv(node24), timeout: 120_000 })
      )
    )
    expectSuccess("tsc nodenext", nodenext as Ran)
    expectSuccess("tsc bundler", bundler as Ran)
    assert.isTrue(fs.existsSync(path.join(app, "out", "main.js")))
  }, 150_000)

  // One test per runtime, titled as the runtime matrix (packages/runtimes) reads it: `... on <runtime id>`.
  const runtimes = [
    { id: "node-24", command: () => [node24], env: () => userEnv(node24) },
    { id: "node-22", command: () => [node22], env: () => userEnv(node22) },
    { id: "bun", command: () => [bun], env: () => userEnv() },
    { id: "deno", command: () => [deno, "run", "--allow-all", "--node-modules-dir=manual"], env: () => userEnv() }
  ] as const
  for (const runtime of runtimes) {
    it(`runs the quickstart, mutual TLS and a STARTTLS upgrade on ${runtime.id}`, async () => {
      if (runtime.id === "node-22") expectSuccess(`npm install node@${NODE_22}`, await node22Install)
      const [command = "", ...args] = runtime.command()
      const ran = expectSuccess(
        `main.js on ${runtime.id}`,
        await run(command, [...args, path.join("out", "main.js")], { cwd: app, env: runtime.env(), timeout: 60_000 })
      )
      const seen = JSON.parse(ran.stdout.trim().split("\n").at(-1) ?? "{}")
      const [name = "", version = ""] = String(seen.runtime).split(" ")
      /** What a part prints when this runtime refuses its path (`Runtime`, docs/runtimes.md). */
      const refusal = (path: string) => `TlsRuntimeError: ${name} ${version} ${path}`
      if (runtime.id === "deno") {
        // Deno 2.9.6 runs neither path: every part fails at once with the refusal, nothing hangs.
        assert.strictEqual(name, "deno")
        for (const part of ["quickstart", "mutual", "refused", "starttls"]) {
          assert.match(seen[part], /^TlsRuntimeError: deno \S+ (native|duplex)$/, part)
        }
      } else {
        assert.match(seen.quickstart, /^hello, TLS \(TLSv1\.3, /)
        assert.deepInclude(seen.mutual, {
          caller: "CN=consumer client",
          protocol: "TLSv1.3",
          serverVerified: true,
          echoed: true
        })
        assert.match(seen.refused, /^Tls(Protocol|Handshake)Error: /)
        // Bun runs the native path only: the upgrade (the duplex path) is refused.
        assert.strictEqual(seen.starttls, name === "bun" ? refusal("duplex") : "220 go ahead, then over TLS")
      }
      if (runtime.id === "node-24") assert.match(seen.node, /^v24\./)
      if (runtime.id === "node-22") assert.strictEqual(seen.node, `v${NODE_22}`)
      if (runtime.id === "bun") assert.strictEqual(name, "bun")
      console.log(`the application ran on ${seen.runtime}`)
    }, 120_000)
  }
})

describe("the installed effect-tls command", () => {
  const bin = path.join(app, "node_modules", ".bin", "effect-tls")
  const cliVersion = () => versionOf("@effect-tls/cli")

  it("--help and --version on the user's Node; a clear error below 22.19", async () => {
    for (const node of [node24, node22]) {
      const env = userEnv(node)
      const help = expectSuccess("effect-tls --help", await run(bin, ["--help"], { cwd: app, env, timeout: 30_000 }))
      assert.match(help.stdout, /connect/)
      assert.match(help.stdout, /serve/)
      const version = expectSuccess("--version", await run(bin, ["--version"], { cwd: app, env, timeout: 30_000 }))
      // Cli.version is a literal: after `changeset version`, packages/cli/src/Cli.ts must say the new version.
      assert.include(version.stdout, `v${cliVersion()}`, "--version prints the package.json version")
    }
    // The machine's own Node, when it is too old (Node 20 on this kind of machine).
    const system = which("node")
    const old =
      system === undefined
        ? undefined
        : await run(system, ["-p", "process.versions.node"], { cwd: app, env: userEnv(), timeout: 10_000 })
    const [major = 0, minor = 0] = (old?.stdout.trim() ?? "").split(".").map(Number)
    if (system !== undefined && (major < 22 || (major === 22 && minor < 19))) {
      const ran = await run(bin, ["--help"], { cwd: app, env: userEnv(system), timeout: 10_000 })
      assert.strictEqual(ran.code, 1, describeRun("effect-tls on an old Node", ran))
      assert.match(ran.stderr, /^error: UnsupportedNode: effect-tls needs Node 22\.19 or later/)
      console.log(`on Node ${old?.stdout.trim()}: ${ran.stderr.trim()}`)
    } else {
      console.log("no Node older than 22.19 on PATH: the version check was not run")
    }
  }, 120_000)

  it("serve stops on SIGTERM with an open connection: exit 0 within the close timeout, no process left", async () => {
    for (const node of [node24, node22]) {
      const stopped = await serveAndTerminate(bin, node)
      console.log(
        `effect-tls serve on Node ${stopped.version}: exit 0 ${stopped.ms.toFixed(0)} ms after SIGTERM, the client's connection closed cleanly, no process left`
      )
    }
  }, 120_000)
})

// -----------------------------------------------------------------------------
// serve and SIGTERM
// -----------------------------------------------------------------------------

/** `--shutdown-timeout`: how long the open connection may run on once the signal came. */
const SHUTDOWN_TIMEOUT_MS = 1_000
/** The connection's default close timeout (`TlsConfig`'s `closeTimeout`): the graceful close after that. */
const CLOSE_TIMEOUT_MS = 5_000

const serveAndTerminate = async (bin: string, node: string) => {
  const child = start(bin, ["serve", "--port", "0", "--shutdown-timeout", `${SHUTDOWN_TIMEOUT_MS}ms`], {
    cwd: app,
    env: userEnv(node)
  })
  const pid = child.pid
  // Never signal pid -1 (every process) or 0 (our own group).
  assert.isDefined(pid, "effect-tls serve started")
  if (pid === undefined || pid <= 0) return { ms: 0, version: "" }
  const output = capture(child)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, at: performance.now() }))
  )
  const within = async <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${what} within ${ms} ms\nstdout: ${output.text.stdout}\nstderr: ${output.text.stderr}`)),
        ms
      )
    })
    try {
      return await Promise.race([promise, late])
    } finally {
      clearTimeout(timer)
    }
  }
  const until = async (stream: "stdout" | "stderr", pattern: RegExp, ms: number) => {
    let stop = () => false
    const matched = new Promise<RegExpMatchArray>((resolve) => {
      const check = () => {
        const match = pattern.exec(output.text[stream])
        if (match !== null) resolve(match)
      }
      stop = output.onOutput(check)
      check()
    })
    try {
      return await within(matched, ms, `serve printed ${pattern}`)
    } finally {
      stop()
    }
  }
  let socket: tls.TLSSocket | undefined
  try {
    const [, port] = await until("stdout", /^listening 127\.0\.0\.1:(\d+)$/m, 20_000)
    const [, caPath = ""] = await until("stderr", /^ephemeral CA: (\S+) /m, 1_000)
    // A client that has echoed a line and stays connected.
    const client = tls.connect({
      host: "127.0.0.1",
      port: Number(port),
      ca: fs.readFileSync(caPath),
      servername: "localhost"
    })
    socket = client
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()))
    let echoed = ""
    await within(
      new Promise<void>((resolve, reject) => {
        client.once("error", reject)
        client.on("data", (chunk: Buffer) => {
          echoed += chunk.toString("utf8")
          if (echoed === "ping\n") resolve()
        })
        client.once("secureConnect", () => client.write("ping\n"))
      }),
      10_000,
      "the echo"
    )
    const signalled = performance.now()
    process.kill(pid, "SIGTERM")
    const exit = await within(exited, SHUTDOWN_TIMEOUT_MS + CLOSE_TIMEOUT_MS + 2_000, "serve exited after SIGTERM")
    const ms = exit.at - signalled
    assert.deepStrictEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, output.text.stderr)
    assert.isBelow(ms, SHUTDOWN_TIMEOUT_MS + CLOSE_TIMEOUT_MS, "exit within the shutdown and close timeouts")
    await within(ended, 1_000, "the client saw the server's close")
    assert.isFalse(fs.existsSync(path.dirname(caPath)), "the ephemeral CA's folder is removed")
    assert.throws(() => process.kill(-pid, 0), /ESRCH/, "no process is left in serve's process group")
    const version = await run(node, ["-p", "process.versions.node"], { cwd: app, env: userEnv(node), timeout: 10_000 })
    return { ms, version: version.stdout.trim() }
  } finally {
    socket?.destroy()
    killGroup(child, "SIGKILL")
  }
}

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/** Every installed copy of a package under a node_modules folder. */
const findPackages = (nodeModules: string, name: string): Array<string> => {
  const found: Array<string> = []
  const visit = (dir: string) => {
    if (!fs.existsSync(dir)) return
    if (fs.existsSync(path.join(dir, name, "package.json"))) found.push(path.join(dir, name))
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const scope = entry.name.startsWith("@") ? path.join(dir, entry.name) : undefined
      const packages =
        scope === undefined ? [path.join(dir, entry.name)] : fs.readdirSync(scope).map((p) => path.join(scope, p))
      for (const pkg of packages) visit(path.join(pkg, "node_modules"))
    }
  }
  visit(nodeModules)
  return found
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1)

const table = (rows: ReadonlyArray<Record<string, string>>): string => {
  const columns = Object.keys(rows[0] ?? {})
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ")
  return [line(columns), ...rows.map((row) => line(columns.map((column) => row[column] ?? "")))].join("\n")
}
