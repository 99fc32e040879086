/**
 * Writes the README's "Latest table" section from a results file (default
 * `results/full-latest.json`), between its markers, so the table is never
 * typed by hand: `pnpm bench:readme [file.json]`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { ImplementationId } from "./Implementation.ts"
import * as Report from "./Report.ts"

/** What `main.ts` writes; read back as it was written. */
interface Document {
  readonly mode: string
  readonly startedAt: string
  readonly seconds: number
  readonly commit?: string
  readonly environment: ReturnType<typeof Report.environment>
  readonly implementations: ReadonlyArray<{ readonly id: ImplementationId; readonly label: string }>
  readonly results: ReadonlyArray<Report.MetricResult>
}

const START = "<!-- bench-table:start (written by `pnpm bench:readme`) -->"
const END = "<!-- bench-table:end -->"

/**
 * The section: where the figures come from, the table, and every target
 * check, met or missed, with the measured value.
 *
 * @since 0.1.0
 * @category formatting
 */
export const section = (document: Document): string => {
  const env = document.environment
  const when = document.startedAt.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC")
  const header =
    `${document.mode === "full" ? "Full" : "Quick"} mode, ${when}, ${Math.round(document.seconds)} s, commit ` +
    `${document.commit ?? "unknown"}, Node ${env.node}, OpenSSL ${env.openssl}, ${env.cpu} x${env.cores}, ` +
    `load average ${env.loadAverage[0]?.toFixed(2) ?? "?"} at the start. Implementations: ` +
    `${document.implementations.map(({ id, label }) => `\`${id}\` ${label}`).join(", ")}.`
  const ids = document.implementations.map(({ id }) => id)
  const checks = document.results.flatMap((result) => result.checks.map((check) => ({ ...check, title: result.title })))
  const format = (check: (typeof checks)[number]) => `${check.title}: ${check.target} (${check.value.toFixed(2)})`
  const met = checks.filter((check) => check.pass)
  const missed = checks.filter((check) => !check.pass)
  return [
    header,
    "",
    Report.markdown(document.results, ids),
    "",
    `Targets met (${met.length}): ${met.map(format).join("; ")}.`,
    "",
    `Targets missed (${missed.length}): ${missed.length === 0 ? "none" : missed.map(format).join("; ")}.`
  ].join("\n")
}

/**
 * The README with its section replaced; fails if the markers are missing.
 *
 * @since 0.1.0
 * @category formatting
 */
export const replaceSection = (readme: string, body: string): string => {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`the README has no ${START} ... ${END} section`)
  return `${readme.slice(0, start + START.length)}\n\n${body}\n\n${readme.slice(end)}`
}

const main = () => {
  const root = path.join(import.meta.dirname, "..")
  const file = process.argv[2] ?? path.join(root, "results", "full-latest.json")
  const document = JSON.parse(fs.readFileSync(file, "utf8")) as Document
  const readmePath = path.join(root, "README.md")
  fs.writeFileSync(readmePath, replaceSection(fs.readFileSync(readmePath, "utf8"), section(document)))
  process.stdout.write(`README table written from ${file}\n`)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === import.meta.filename) main()
