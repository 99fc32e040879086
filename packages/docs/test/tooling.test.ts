/**
 * The documentation checks catch what they exist to catch: a TypeScript
 * block that is not an include, an include out of date with its source, a
 * missing region, a broken link or anchor, a JSDoc example that does not
 * type-check, a JSDoc fence without a language.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as JsDocExamples from "../src/JsDocExamples.ts"
import * as Markdown from "../src/Markdown.ts"

const withTree = (files: Record<string, string>, body: (root: string) => void) => {
  const root = mkdtempSync(path.join(tmpdir(), "effect-tls-docs-"))
  try {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
      writeFileSync(path.join(root, file), text)
    }
    body(root)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

const source = [
  "import * as Effect from 'effect/Effect'",
  "// #region answer",
  "export const answer = Effect.succeed(42)",
  "// #endregion answer",
  ""
].join("\n")

describe("Markdown", () => {
  it("extracts a region without its markers, dedented", () => {
    assert.deepStrictEqual(Markdown.extractRegion("  // #region a\n    x\n      y\n  // #endregion a\n", "a"), [
      "x",
      "  y"
    ])
    assert.strictEqual(Markdown.extractRegion(source, "missing"), 'no region "missing"')
  })

  it("rewrites a stale include in build mode and reports it in check mode", () => {
    const page = "# Page\n\n<!-- include docs/examples/a.ts#answer -->\n```ts\nold\n```\n"
    withTree({ "docs/examples/a.ts": source, "docs/page.md": page }, (root) => {
      const checked = Markdown.run(root, ["docs/page.md"], { check: true })
      assert.strictEqual(checked.length, 1)
      assert.match(checked[0]?.message ?? "", /included region changed/)
      assert.deepStrictEqual(Markdown.run(root, ["docs/page.md"], { check: false }), [])
      assert.include(readFileSync(path.join(root, "docs/page.md"), "utf8"), "export const answer = Effect.succeed(42)")
      assert.deepStrictEqual(Markdown.run(root, ["docs/page.md"], { check: true }), [])
    })
  })

  it("refuses a TypeScript block that is not an include, and includes from unchecked folders", () => {
    const page = "```ts\nconst x = 1\n```\n\n<!-- include src/a.ts -->\n```ts\n```\n\n```sh\nls\n```\n"
    withTree({ "src/a.ts": source, "docs/page.md": page }, (root) => {
      const messages = Markdown.run(root, ["docs/page.md"], { check: true }).map((p) => `${p.line}: ${p.message}`)
      assert.strictEqual(messages.length, 2, messages.join("\n"))
      assert.match(messages[0] ?? "", /^1: a TypeScript fence must be an include/)
      assert.match(messages[1] ?? "", /^6: include src\/a.ts: only .ts files under/)
    })
  })

  it("copies a section of another markdown file and reports it when it changed", () => {
    const bench = "# Bench\n\n## Latest table\n\n| a |\n| - |\n| 1 |\n\n## Other\n\nnot this\n"
    const page = '# Page\n<!-- include-section bench.md "Latest table" -->\nstale\n<!-- end-include -->\nafter\n'
    withTree({ "bench.md": bench, "README.md": page }, (root) => {
      assert.strictEqual(Markdown.run(root, ["README.md"], { check: true }).length, 1)
      assert.deepStrictEqual(Markdown.run(root, ["README.md"], { check: false }), [])
      assert.strictEqual(
        readFileSync(path.join(root, "README.md"), "utf8"),
        '# Page\n<!-- include-section bench.md "Latest table" -->\n\n| a |\n| - |\n| 1 |\n\n<!-- end-include -->\nafter\n'
      )
    })
  })

  it("reports broken links and anchors, and accepts good ones", () => {
    const page = [
      "# Title",
      "## Some `code` here",
      "[ok](other.md#second-part) [ok](#some-code-here) [web](https://example.com) [allowed](../dist/api/index.html)",
      "[bad](missing.md) [bad anchor](other.md#nope) `[not a link](nowhere.md)`",
      ""
    ].join("\n")
    withTree({ "docs/page.md": page, "docs/other.md": "# Other\n## Second part\n" }, (root) => {
      const problems = Markdown.run(root, ["docs/page.md"], { check: true, allowedLinkPrefixes: ["dist/api"] })
      assert.deepStrictEqual(
        problems.map((p) => p.message),
        ["broken link: missing.md", "broken anchor: other.md#nope"]
      )
    })
  })
})

describe("JsDocExamples", () => {
  it("extracts ts fences from doc comments only, and flags fences without a language", () => {
    const file = [
      "/**",
      " * ```ts",
      " * const a = 1",
      " * ```",
      " * ```text",
      " * prose",
      " * ```",
      " * ```",
      " * untyped",
      " * ```",
      " */",
      "// ```ts",
      ""
    ].join("\n")
    const { examples, problems } = JsDocExamples.extract("m.ts", file)
    assert.deepStrictEqual(examples, [{ file: "m.ts", line: 3, code: "const a = 1\n" }])
    assert.deepStrictEqual(
      problems.map((p) => p.line),
      [8]
    )
  })

  it("type-checks the examples and places errors in the source file", () => {
    const root = path.resolve(import.meta.dirname, "../../..")
    const dir = mkdtempSync(path.join(root, ".docs-tooling-test-"))
    const relative = path.relative(root, path.join(dir, "Module.ts"))
    try {
      writeFileSync(
        path.join(dir, "Module.ts"),
        [
          "/**",
          " * ```ts",
          ' * import * as TlsSession from "@effect-tls/core/TlsSession"',
          " * export const label: number = TlsSession.TLS_EXPORTER_LABEL",
          " * ```",
          " */",
          "export {}",
          ""
        ].join("\n")
      )
      const result = JsDocExamples.check(root, [relative], {
        tsconfig: "tsconfig.json",
        outDir: path.join(path.relative(root, dir), "out")
      })
      assert.strictEqual(result.examples, 1)
      assert.strictEqual(result.problems.length, 1)
      assert.strictEqual(result.problems[0]?.file, relative)
      assert.strictEqual(result.problems[0]?.line, 4)
      assert.match(result.problems[0]?.message ?? "", /not assignable to type 'number'/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
