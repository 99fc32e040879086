/**
 * Results: every metric with its raw runs, medians and ratios, the targets
 * they are checked against, the terminal table and the JSON document.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import type { ImplementationId } from "./Implementation.ts"

/**
 * A target on the ratio (or, for memory, the difference) of two
 * implementations' medians. `native/raw >= 0.97`, `native-raw <= 8`,
 * `native-floor <= 1.5`, or `native beats effect` (`beats` reads the
 * metric's direction).
 *
 * @since 0.1.0
 * @category models
 */
export type Target =
  | {
      readonly _tag: "Ratio"
      readonly subject: ImplementationId
      readonly reference: ImplementationId
      readonly min: number
    }
  | {
      readonly _tag: "RatioAtMost"
      readonly subject: ImplementationId
      readonly reference: ImplementationId
      readonly max: number
    }
  | {
      readonly _tag: "Difference"
      readonly subject: ImplementationId
      readonly reference: ImplementationId
      readonly max: number
    }
  | { readonly _tag: "Beats"; readonly subject: ImplementationId; readonly reference: ImplementationId }
  | { readonly _tag: "AtMost"; readonly subject: ImplementationId; readonly max: number }

/**
 * What a metric is.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricSpec {
  readonly id: string
  readonly title: string
  readonly unit: string
  readonly better: "higher" | "lower"
  readonly targets: ReadonlyArray<Target>
}

/**
 * A measured metric.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricResult extends MetricSpec {
  /** Every recorded run, per implementation, in the order they ran. */
  readonly runs: Partial<Record<ImplementationId, ReadonlyArray<number>>>
  readonly medians: Partial<Record<ImplementationId, number>>
  /** `a/b` of medians, for the pairs the table shows. */
  readonly ratios: Record<string, number>
  readonly checks: ReadonlyArray<{ readonly target: string; readonly value: number; readonly pass: boolean }>
  /** Anything else worth keeping (resumption counts, bytes the flooder got rid of). */
  readonly notes: ReadonlyArray<string>
}

/**
 * The ratios every table shows, when both sides were measured.
 *
 * @since 0.1.0
 * @category constants
 */
export const ratioPairs: ReadonlyArray<readonly [ImplementationId, ImplementationId]> = [
  ["native", "raw"],
  // How far effect-tls is from the thinnest Effect program that keeps its design.
  ["native", "floor"],
  ["duplex", "native"],
  // How far the duplex path is from a TLSSocket over a JS duplex with nothing around it.
  ["duplex", "jsduplex"],
  ["jsduplex", "raw"],
  ["simple", "raw"],
  ["effect", "raw"],
  ["native", "effect"]
]

/**
 * The median (mean of the middle two for an even count); NaN when empty.
 *
 * @since 0.1.0
 * @category statistics
 */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  // biome-ignore lint/style/noNonNullAssertion: both indexes are within a non-empty array.
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const describe = (target: Target): string => {
  switch (target._tag) {
    case "Ratio":
      return `${target.subject}/${target.reference} >= ${target.min}`
    case "Difference":
      return `${target.subject}-${target.reference} <= ${target.max}`
    case "RatioAtMost":
      return `${target.subject}/${target.reference} <= ${target.max}`
    case "Beats":
      return `${target.subject} beats ${target.reference}`
    case "AtMost":
      return `${target.subject} <= ${target.max}`
  }
}

/**
 * Medians, ratios and target checks of a metric's runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const summarize = (
  spec: MetricSpec,
  runs: Partial<Record<ImplementationId, ReadonlyArray<number>>>,
  notes: ReadonlyArray<string> = []
): MetricResult => {
  const medians: Partial<Record<ImplementationId, number>> = {}
  for (const [id, values] of Object.entries(runs) as Array<[ImplementationId, ReadonlyArray<number>]>) {
    medians[id] = median(values)
  }
  const value = (id: ImplementationId) => medians[id] ?? Number.NaN
  const ratios: Record<string, number> = {}
  for (const [a, b] of ratioPairs) {
    const ratio = value(a) / value(b)
    if (Number.isFinite(ratio)) ratios[`${a}/${b}`] = ratio
  }
  const checks: Array<{ target: string; value: number; pass: boolean }> = []
  for (const target of spec.targets) {
    let measured: number
    let pass: boolean
    switch (target._tag) {
      case "Ratio":
        measured = value(target.subject) / value(target.reference)
        pass = measured >= target.min
        break
      case "RatioAtMost":
        measured = value(target.subject) / value(target.reference)
        pass = measured <= target.max
        break
      case "Difference":
        measured = value(target.subject) - value(target.reference)
        pass = measured <= target.max
        break
      case "Beats":
        measured = value(target.subject) / value(target.reference)
        pass = spec.better === "higher" ? measured > 1 : measured < 1
        break
      case "AtMost":
        measured = value(target.subject)
        pass = measured <= target.max
        break
    }
    if (Number.isFinite(measured)) checks.push({ target: describe(target), value: measured, pass })
  }
  return { ...spec, runs, medians, ratios, checks, notes }
}

const formatNumber = (value: number | undefined): string => {
  if (value === undefined || !Number.isFinite(value)) return "n/a"
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US")
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

const pad = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>): string =>
  cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ")

/**
 * The terminal table: one row per metric, a column per implementation, the
 * ratios, and the targets (`ok` or `MISS` with the measured figure).
 *
 * @since 0.1.0
 * @category formatting
 */
export const table = (results: ReadonlyArray<MetricResult>, implementations: ReadonlyArray<ImplementationId>) => {
  const pairs = ratioPairs.filter(([a, b]) => implementations.includes(a) && implementations.includes(b))
  const header = ["case", "unit", ...implementations, ...pairs.map(([a, b]) => `${a}/${b}`), "targets"]
  const rows = results.map((result) => [
    result.title,
    result.unit,
    ...implementations.map((id) => formatNumber(result.medians[id])),
    ...pairs.map(([a, b]) => formatNumber(result.ratios[`${a}/${b}`])),
    result.checks
      .map((check) => `${check.pass ? "ok" : "MISS"} ${check.target} (${formatNumber(check.value)})`)
      .join("; ")
  ])
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? "").length)))
  // The targets column is last and left as it is, so long checks do not widen the table.
  widths[widths.length - 1] = 0
  const rule = widths.map((width) => "-".repeat(Math.max(width, 7))).join("  ")
  return [pad(header, widths), rule, ...rows.map((row) => pad(row, widths))].join("\n")
}

/**
 * The same table in Markdown, for the README.
 *
 * @since 0.1.0
 * @category formatting
 */
export const markdown = (results: ReadonlyArray<MetricResult>, implementations: ReadonlyArray<ImplementationId>) => {
  const pairs = ratioPairs.filter(([a, b]) => implementations.includes(a) && implementations.includes(b))
  const header = ["case", "unit", ...implementations, ...pairs.map(([a, b]) => `${a}/${b}`), "targets"]
  const rows = results.map((result) => [
    result.title,
    result.unit,
    ...implementations.map((id) => formatNumber(result.medians[id])),
    ...pairs.map(([a, b]) => formatNumber(result.ratios[`${a}/${b}`])),
    result.checks.map((check) => `${check.pass ? "ok" : "**MISS**"} ${check.target}`).join("; ")
  ])
  // Aligned as the repository's formatter aligns Markdown tables, so formatting leaves it unchanged.
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n")
}

/**
 * The machine and runtime the figures come from.
 *
 * @since 0.1.0
 * @category models
 */
export const environment = () => ({
  node: process.versions.node,
  openssl: process.versions.openssl,
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  loadAverage: os.loadavg()
})
