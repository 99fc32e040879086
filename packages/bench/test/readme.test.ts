import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Readme from "../src/readme.ts"

const root = path.join(import.meta.dirname, "..")

describe("bench README", () => {
  it("the table section is the one written from results/full-latest.json", () => {
    const document = JSON.parse(fs.readFileSync(path.join(root, "results", "full-latest.json"), "utf8"))
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    assert.strictEqual(
      Readme.replaceSection(readme, Readme.section(document)),
      readme,
      "run `pnpm bench:readme` after a full run"
    )
  })

  it("a README without the markers is refused, not silently left stale", () => {
    assert.throws(() => Readme.replaceSection("# no table here\n", "table"), /bench-table:start/)
  })
})
