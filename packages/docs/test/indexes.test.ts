/**
 * Each package's index re-exports every public module of its `src/` (a
 * module missing there is missing from `import { X } from "@effect-tls/<pkg>"`
 * and from the reference's index). The CLI's `bin.ts` is its entry point, not
 * a module.
 */
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const packages = path.join(import.meta.dirname, "..", "..")

describe("package indexes", () => {
  for (const pkg of ["core", "node", "test", "cli"]) {
    it(`@effect-tls/${pkg}: the index re-exports every public module`, () => {
      const src = path.join(packages, pkg, "src")
      const index = readFileSync(path.join(src, "index.ts"), "utf8")
      const modules = readdirSync(src, { withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !["index.ts", "bin.ts"].includes(entry.name))
        .map((entry) => entry.name.slice(0, -".ts".length))
      assert.isNotEmpty(modules)
      const missing = modules.filter((name) => !index.includes(`export * as ${name} from "./${name}.ts"`))
      assert.deepStrictEqual(missing, [], `not in ${pkg}/src/index.ts`)
    })
  }
})
