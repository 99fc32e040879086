/**
 * Type-checks every TypeScript example in the JSDoc of the public modules.
 *
 * Each fenced `ts` block inside a doc comment is written out as a module of
 * its own, next to the repository's root so that package imports
 * (`@effect-tls/node/Plaintext`) resolve as they do for a user, and compiled
 * with the root `tsconfig.json`'s options. An example is therefore a complete
 * module: it imports what it uses and declares (`declare const`) what it takes
 * as given.
 *
 * @since 0.1.0
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"

/**
 * An example extracted from a doc comment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  /** The source file, relative to the root. */
  readonly file: string
  /** The line of the example's first code line in the source file (1-based). */
  readonly line: number
  readonly code: string
}

/**
 * A compiler diagnostic of an example, placed in the source file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly message: string
}

const fenceOpen = /^```\s*(ts|typescript)\s*$/
/** Fences that are not code to compile; a fence without a language is neither and is refused. */
const proseFence = /^```\s*(text|sh|console)\s*$/

/**
 * The examples of one source file: every `ts` fence inside a `/** ... *\/`
 * comment; and a problem for every fence that names no language (neither
 * compiled nor declared as prose).
 *
 * @since 0.1.0
 * @category constructors
 */
export const extract = (
  file: string,
  source: string
): { readonly examples: ReadonlyArray<Example>; readonly problems: ReadonlyArray<Problem> } => {
  const examples: Array<Example> = []
  const problems: Array<Problem> = []
  let inProse = false
  const lines = source.split("\n")
  let inComment = false
  let current: { line: number; code: Array<string> } | undefined
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? ""
    if (!inComment && /^\s*\/\*\*/.test(raw)) inComment = true
    if (!inComment) continue
    const text = raw.replace(/^\s*\/?\*+\/?\s?/, "")
    if (inProse) {
      if (text.trim() === "```") inProse = false
    } else if (current === undefined) {
      const fence = text.trim()
      if (fenceOpen.test(fence)) current = { line: i + 2, code: [] }
      else if (proseFence.test(fence)) inProse = true
      else if (fence.startsWith("```")) {
        problems.push({ file, line: i + 1, message: "a doc comment fence must say `ts` (type-checked) or `text`/`sh`" })
        inProse = true
      }
    } else if (text.trim() === "```") {
      examples.push({ file, line: current.line, code: `${current.code.join("\n")}\n` })
      current = undefined
    } else {
      current.code.push(text)
    }
    if (raw.includes("*/")) {
      inComment = false
      inProse = false
      current = undefined
    }
  }
  return { examples, problems }
}

/**
 * Extracts the examples of `files` and compiles them together with the
 * options of `tsconfig`; returns the diagnostics, placed in the source files.
 * The scratch folder `outDir` (relative to the root) is removed afterwards.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (
  root: string,
  files: ReadonlyArray<string>,
  options: { readonly tsconfig: string; readonly outDir: string }
): { readonly examples: number; readonly problems: ReadonlyArray<Problem> } => {
  const extracted = files.map((file) => extract(file, readFileSync(path.join(root, file), "utf8")))
  const examples = extracted.flatMap((result) => result.examples)
  const fenceProblems = extracted.flatMap((result) => result.problems)
  if (examples.length === 0) return { examples: 0, problems: fenceProblems }

  const scratch = path.join(root, options.outDir)
  rmSync(scratch, { recursive: true, force: true })
  mkdirSync(scratch, { recursive: true })
  try {
    const byScratchFile = new Map<string, Example>()
    examples.forEach((example, index) => {
      const name = `${example.file.replace(/[^\w]+/g, "_")}_${index}.ts`
      const target = path.join(scratch, name)
      // `export {}` makes a module of an example that neither imports nor exports.
      writeFileSync(target, `${example.code}export {}\n`)
      byScratchFile.set(path.normalize(target), example)
    })

    const config = ts.getParsedCommandLineOfConfigFile(path.join(root, options.tsconfig), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
      }
    })
    if (config === undefined) throw new Error(`cannot read ${options.tsconfig}`)
    const program = ts.createProgram({ rootNames: [...byScratchFile.keys()], options: config.options })
    const problems: Array<Problem> = [...fenceProblems]
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
      const sourceFile = diagnostic.file
      const example = sourceFile === undefined ? undefined : byScratchFile.get(path.normalize(sourceFile.fileName))
      // Errors in the modules an example imports are `pnpm check`'s to report.
      if (sourceFile !== undefined && example === undefined) continue
      if (sourceFile === undefined || example === undefined || diagnostic.start === undefined) {
        problems.push({ file: options.tsconfig, line: 0, message })
        continue
      }
      const { line } = sourceFile.getLineAndCharacterOfPosition(diagnostic.start)
      problems.push({ file: example.file, line: example.line + line, message })
    }
    return { examples: examples.length, problems }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}
