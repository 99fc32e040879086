/**
 * `pnpm run docs` builds the API reference into `dist/api/` and rewrites the
 * guide's include fences from their sources; `pnpm docs:check` (part of
 * `pnpm test`) changes nothing and fails when the reference has warnings
 * (an export without JSDoc or `@since`, a broken `{@link}`), a JSDoc example
 * does not type-check, a guide fence is out of date or not an include, or a
 * link of the guide or the README is broken.
 *
 * @since 0.1.0
 */
import { readdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as JsDocExamples from "./JsDocExamples.ts"
import * as Markdown from "./Markdown.ts"
import * as Reference from "./Reference.ts"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const check = process.argv.includes("--check")
const tsconfig = "tsconfig.json"
/** Where `pnpm run docs` writes the HTML reference (gitignored). */
const apiOut = "dist/api"

const guideFiles = (): ReadonlyArray<string> => [
  "README.md",
  ...readdirSync(path.join(root, "docs"))
    .filter((name) => name.endsWith(".md") && name !== "DESIGN.md")
    .sort()
    .map((name) => `docs/${name}`)
]

const started = Date.now()
const problems: Array<string> = []
const report = (items: ReadonlyArray<{ file: string; line: number; message: string }>) => {
  for (const item of items) problems.push(`${item.file}:${item.line}: ${item.message}`)
}

const markdown = guideFiles()
report(Markdown.run(root, markdown, { check, allowedLinkPrefixes: [apiOut] }))

const modules = Reference.moduleFiles(root)
const examples = JsDocExamples.check(root, modules, { tsconfig, outDir: ".docs-examples" })
report(examples.problems)

const reference = await Reference.run(root, { tsconfig, out: check ? undefined : apiOut })
problems.push(...reference.problems)

const seconds = ((Date.now() - started) / 1000).toFixed(1)
if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  console.error(`docs: ${problems.length} problem(s) in ${seconds} s`)
  process.exit(1)
}
console.log(
  `docs: ${markdown.length} markdown files, ${examples.examples} JSDoc examples type-checked, ` +
    `${reference.modules} modules documented${check ? "" : ` (reference in ${apiOut}/)`}, in ${seconds} s`
)
