/**
 * The runtimes the conformance suite runs on, each brought by a root
 * devDependency from the npm registry (`node`, `node-22`,
 * `@oven/bun-linux-x64`, `@deno/linux-x64-glibc`), and how each runs a
 * script and vitest.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** The workspace root. */
export const root: string = path.resolve(import.meta.dirname, "..", "..", "..")

const modules = (...parts: ReadonlyArray<string>) => path.join(root, "node_modules", ...parts)

/**
 * A runtime under test.
 *
 * @since 0.1.0
 * @category models
 */
export interface RuntimeUnderTest {
  /** `node-24`, `node-22`, `bun`, `deno`: the results file's key. */
  readonly id: RuntimeId
  /** As `Runtime.current.name` reports it. */
  readonly name: "node" | "bun" | "deno"
  /** The executable. */
  readonly executable: string
  /** The arguments before a script's path (`deno run -A ...`). */
  readonly scriptArgs: ReadonlyArray<string>
  /**
   * vitest options this runtime needs: Bun's child processes lack
   * `channel.unref`, which vitest's forks pool calls, so Bun runs the tests
   * in worker threads (Bun's own runtime all the same).
   */
  readonly vitestArgs: ReadonlyArray<string>
  /** The package that brings it, whose version is the runtime's. */
  readonly packageDir: string
}

/**
 * @since 0.1.0
 * @category models
 */
export type RuntimeId = "node-24" | "node-22" | "bun" | "deno"

/**
 * Every runtime, in table order.
 *
 * @since 0.1.0
 * @category constants
 */
export const all: ReadonlyArray<RuntimeUnderTest> = [
  {
    id: "node-24",
    name: "node",
    executable: modules("node", "bin", "node"),
    scriptArgs: [],
    vitestArgs: [],
    packageDir: modules("node")
  },
  {
    id: "node-22",
    name: "node",
    executable: modules("node-22", "bin", "node"),
    scriptArgs: [],
    vitestArgs: [],
    packageDir: modules("node-22")
  },
  {
    id: "bun",
    name: "bun",
    executable: modules("@oven", "bun-linux-x64", "bin", "bun"),
    scriptArgs: [],
    vitestArgs: ["--pool=threads"],
    packageDir: modules("@oven", "bun-linux-x64")
  },
  {
    id: "deno",
    name: "deno",
    executable: modules("@deno", "linux-x64-glibc", "deno"),
    scriptArgs: ["run", "--allow-all", "--node-modules-dir=manual"],
    vitestArgs: [],
    packageDir: modules("@deno", "linux-x64-glibc")
  }
]

/**
 * @since 0.1.0
 * @category getters
 */
export const get = (id: string): RuntimeUnderTest => {
  const found = all.find((runtime) => runtime.id === id)
  if (found === undefined) throw new Error(`unknown runtime ${id}: one of ${all.map((r) => r.id).join(", ")}`)
  return found
}

/**
 * The runtime's version, from the package that brings it.
 *
 * @since 0.1.0
 * @category getters
 */
export const versionOf = (runtime: RuntimeUnderTest): string => {
  const manifest: { readonly version?: unknown } = JSON.parse(
    fs.readFileSync(path.join(runtime.packageDir, "package.json"), "utf8")
  )
  return String(manifest.version)
}

/**
 * The command line that runs `script` with `args` on `runtime`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = (
  runtime: RuntimeUnderTest,
  script: string,
  args: ReadonlyArray<string> = []
): readonly [string, ReadonlyArray<string>] => [runtime.executable, [...runtime.scriptArgs, script, ...args]]

/**
 * The command line that runs vitest on `runtime` for `files`, writing its
 * JSON report to `outputFile`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const vitest = (
  runtime: RuntimeUnderTest,
  files: ReadonlyArray<string>,
  outputFile: string
): readonly [string, ReadonlyArray<string>] =>
  command(runtime, modules("vitest", "vitest.mjs"), [
    "run",
    "--project",
    "workspace",
    ...runtime.vitestArgs,
    "--reporter=json",
    `--outputFile.json=${outputFile}`,
    ...files
  ])
