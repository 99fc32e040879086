/**
 * The `prepack` of every published package (run by `pnpm pack` and `pnpm publish`, in the package's
 * folder): builds the package's `dist` from scratch, so that a tarball never carries the output of a
 * source file that was since renamed or removed.
 *
 * Only pnpm may pack: the `exports` a package is published with (`dist`) are in its
 * `publishConfig.exports`, which pnpm applies and npm ignores. A tarball packed by npm would export
 * the TypeScript sources, which Node refuses to run inside `node_modules`.
 */
import { spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"

const agent = process.env.npm_config_user_agent ?? ""
if (!agent.startsWith("pnpm/")) {
  console.error(
    `error: pack and publish with pnpm (\`pnpm pack\`, \`pnpm publish\`, \`changeset publish\`), not ${agent.split(" ")[0] || "this tool"}: only pnpm applies publishConfig.exports`
  )
  process.exit(1)
}

rmSync("dist", { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
const build = spawnSync(process.execPath, [tsc, "--build", "tsconfig.build.json"], { stdio: "inherit" })
process.exit(build.status ?? 1)
