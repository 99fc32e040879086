/**
 * The guide's markdown rules, checked by `pnpm docs:check` and applied by
 * `pnpm run docs`:
 *
 * - every TypeScript fence is an include of a type-checked file: the line
 *   before it is `<!-- include path#region -->`, and its content is that
 *   region of the file (a `// #region name` ... `// #endregion` pair), or the
 *   whole file without a `#region`. `pnpm run docs` rewrites the fences from the
 *   files; the check fails when one differs, so the guide cannot drift from
 *   the code the compiler and the tests see;
 * - included files live where `tsconfig.json` type-checks them
 *   (`docs/examples/`, `examples/`);
 * - a section of another markdown file (the benchmark table) is copied
 *   between `<!-- include-section path "Heading" -->` and
 *   `<!-- end-include -->`, and kept in sync the same way;
 * - relative links point to files that exist, and `#anchors` to headings
 *   that exist.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs"
import * as path from "node:path"

/**
 * A rule a markdown file broke.
 *
 * @since 0.1.0
 * @category models
 */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly message: string
}

/**
 * The folders whose `.ts` files may be included (type-checked by the root
 * `tsconfig.json`).
 *
 * @since 0.1.0
 * @category constants
 */
export const includable: ReadonlyArray<string> = ["docs/examples/", "examples/"]

const includeMarker = /^<!--\s*include\s+(\S+?)\s*-->\s*$/
const sectionMarker = /^<!--\s*include-section\s+(\S+)\s+"([^"]+)"\s*-->\s*$/
const sectionEnd = /^<!--\s*end-include\s*-->\s*$/
const fenceOpen = /^(`{3,})\s*([\w-]*)\s*$/
const typescriptFences = new Set(["ts", "typescript", "tsx"])

/**
 * The lines of `region` in a TypeScript file (the whole file when `region` is
 * undefined), without the region markers and with the common indentation
 * removed. Fails with a message when the region does not exist.
 *
 * @since 0.1.0
 * @category utils
 */
export const extractRegion = (source: string, region: string | undefined): ReadonlyArray<string> | string => {
  const lines = source.replace(/\s+$/, "").split("\n")
  const isMarker = (line: string) => /^\s*\/\/\s*#(end)?region\b/.test(line)
  if (region === undefined) return lines.filter((line) => !isMarker(line))
  const start = lines.findIndex((line) => new RegExp(`^\\s*//\\s*#region\\s+${escapeRegExp(region)}\\s*$`).test(line))
  if (start < 0) return `no region "${region}"`
  let depth = 0
  const body: Array<string> = []
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? ""
    if (/^\s*\/\/\s*#region\b/.test(line)) {
      depth++
      continue
    }
    if (/^\s*\/\/\s*#endregion\b/.test(line)) {
      if (depth === 0) return dedent(body)
      depth--
      continue
    }
    body.push(line)
  }
  return `region "${region}" has no #endregion`
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const dedent = (lines: ReadonlyArray<string>): ReadonlyArray<string> => {
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)?.[0].length ?? 0)
  const common = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((line) => line.slice(common))
}

/**
 * GitHub's anchor of a heading: lower case, punctuation dropped, spaces as
 * dashes.
 *
 * @since 0.1.0
 * @category utils
 */
export const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{Letter}\p{Number}\- _]/gu, "")
    .replace(/ /g, "-")

const anchorsOf = (markdown: string): ReadonlySet<string> => {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let inFence = false
  for (const line of markdown.split("\n")) {
    if (fenceOpen.test(line)) inFence = !inFence
    if (inFence) continue
    const heading = /^#{1,6}\s+(.*)$/.exec(line)
    if (heading === null) continue
    const base = slug(heading[1] ?? "")
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

/**
 * Applies the include rule to one markdown file: returns its text with every
 * include fence rewritten from its source, and the problems found (broken
 * rules, missing regions, broken links).
 *
 * @since 0.1.0
 * @category constructors
 */
export const processFile = (
  root: string,
  file: string,
  options: { readonly allowedLinkPrefixes?: ReadonlyArray<string> | undefined } = {}
): { readonly text: string; readonly problems: ReadonlyArray<Problem> } => {
  const absolute = path.join(root, file)
  const original = readFileSync(absolute, "utf8")
  const lines = original.split("\n")
  const out: Array<string> = []
  const problems: Array<Problem> = []
  const problem = (index: number, message: string) => problems.push({ file, line: index + 1, message })

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ""
    const section = sectionMarker.exec(line)
    if (section !== null) {
      let end = i + 1
      while (end < lines.length && !sectionEnd.test(lines[end] ?? "")) end++
      if (end >= lines.length) {
        problem(i, "include-section without <!-- end-include -->")
        out.push(...lines.slice(i))
        break
      }
      const body = sectionBody(root, section[1] ?? "", section[2] ?? "")
      if (typeof body === "string") {
        problem(i, `include-section ${section[1]} "${section[2]}": ${body}`)
        out.push(...lines.slice(i, end + 1))
      } else {
        out.push(line, "", ...body, "", lines[end] ?? "")
      }
      i = end
      continue
    }
    const open = fenceOpen.exec(line)
    if (open === null) {
      out.push(line)
      checkLinks(root, file, line, i, problem, options.allowedLinkPrefixes ?? [])
      continue
    }
    // A fence: find its end, then decide whether it is an include.
    const ticks = open[1] ?? "```"
    let end = i + 1
    while (end < lines.length && (lines[end] ?? "").trim() !== ticks) end++
    if (end >= lines.length) {
      problem(i, "unclosed code fence")
      out.push(...lines.slice(i))
      break
    }
    const language = open[2] ?? ""
    const marker = includeMarker.exec(lines[i - 1] ?? "")
    if (marker === null) {
      if (typescriptFences.has(language)) {
        problem(i, "a TypeScript fence must be an include of a type-checked file (`<!-- include path#region -->`)")
      }
      out.push(...lines.slice(i, end + 1))
      i = end
      continue
    }
    const [target = "", region] = (marker[1] ?? "").split("#")
    const body = includeBody(root, target, region)
    if (typeof body === "string") {
      problem(i, `include ${marker[1]}: ${body}`)
      out.push(...lines.slice(i, end + 1))
    } else {
      out.push(line, ...body, ticks)
    }
    i = end
  }
  return { text: out.join("\n"), problems }
}

const includeBody = (root: string, target: string, region: string | undefined): ReadonlyArray<string> | string => {
  if (!includable.some((prefix) => target.startsWith(prefix)) || !target.endsWith(".ts")) {
    return `only .ts files under ${includable.join(" or ")} can be included (they are type-checked)`
  }
  const source = path.join(root, target)
  if (!existsSync(source)) return "no such file"
  return extractRegion(readFileSync(source, "utf8"), region)
}

/** The lines under `## heading` (any level) of a markdown file, up to the next heading of the same or a higher level. */
const sectionBody = (root: string, target: string, heading: string): ReadonlyArray<string> | string => {
  const source = path.join(root, target)
  if (!target.endsWith(".md") || !existsSync(source)) return "no such markdown file"
  const lines = readFileSync(source, "utf8").split("\n")
  const start = lines.findIndex((line) => new RegExp(`^#{1,6}\\s+${escapeRegExp(heading)}\\s*$`).test(line))
  if (start < 0) return "no such heading"
  const level = /^#+/.exec(lines[start] ?? "")?.[0].length ?? 1
  let end = start + 1
  while (end < lines.length && !new RegExp(`^#{1,${level}}\\s`).test(lines[end] ?? "")) end++
  const body = lines.slice(start + 1, end)
  while (body.length > 0 && (body[0] ?? "").trim() === "") body.shift()
  while (body.length > 0 && (body[body.length - 1] ?? "").trim() === "") body.pop()
  return body
}

const linkPattern = /(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g

const checkLinks = (
  root: string,
  file: string,
  line: string,
  index: number,
  problem: (index: number, message: string) => void,
  allowedPrefixes: ReadonlyArray<string>
) => {
  // Inline code is not a link.
  const text = line.replace(/`[^`]*`/g, "")
  for (const match of text.matchAll(linkPattern)) {
    const target = match[1] ?? ""
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    const [targetPath = "", anchor] = target.split("#")
    const resolved = targetPath === "" ? file : path.normalize(path.join(path.dirname(file), targetPath))
    if (allowedPrefixes.some((prefix) => resolved.startsWith(prefix))) continue
    const absolute = path.join(root, resolved)
    if (!existsSync(absolute)) {
      problem(index, `broken link: ${target}`)
      continue
    }
    if (anchor !== undefined && anchor !== "") {
      if (statSync(absolute).isDirectory() || !resolved.endsWith(".md")) continue
      if (!anchorsOf(readFileSync(absolute, "utf8")).has(anchor)) problem(index, `broken anchor: ${target}`)
    }
  }
}

/**
 * Processes `files`: in check mode reports every file whose includes are out
 * of date; otherwise rewrites them. Returns the problems.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  root: string,
  files: ReadonlyArray<string>,
  options: { readonly check: boolean; readonly allowedLinkPrefixes?: ReadonlyArray<string> | undefined }
): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  for (const file of files) {
    const result = processFile(root, file, options)
    problems.push(...result.problems)
    const current = readFileSync(path.join(root, file), "utf8")
    if (result.text === current) continue
    if (options.check) {
      problems.push({ file, line: 1, message: "an included region changed: run `pnpm run docs` to update the fences" })
    } else {
      writeFileSync(path.join(root, file), result.text)
    }
  }
  return problems
}
