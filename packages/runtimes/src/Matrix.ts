/**
 * The runtime matrix: what a vitest JSON report of the conformance suite
 * says per runtime, path and contract point, the results file that keeps it
 * (`results.json`, checked in), and the README table made from that file.
 *
 * @since 0.1.0
 */
import * as Runtimes from "./Runtimes.ts"

/**
 * The suites of the matrix: the conformance registrations of
 * `packages/node/test`, by the name of their `describe`.
 *
 * @since 0.1.0
 * @category constants
 */
export const suites = [
  {
    id: "native-tcp",
    path: "native",
    transport: "TCP",
    describe: "conformance: native path (node:tls on TCP, 127.0.0.1)"
  },
  {
    id: "duplex-memory",
    path: "duplex",
    transport: "memory pair",
    describe: "conformance: duplex path (node:tls over a duplex) over the memory transport pair"
  },
  {
    id: "duplex-tcp",
    path: "duplex",
    transport: "TCP",
    describe: "conformance: duplex path (node:tls over a duplex) over TCP"
  }
] as const

/**
 * @since 0.1.0
 * @category models
 */
export type SuiteId = (typeof suites)[number]["id"]

/** The test files that register them. */
export const conformanceFiles: ReadonlyArray<string> = [
  "packages/node/test/conformance.test.ts",
  "packages/node/test/duplex-path-conformance.test.ts"
]

/**
 * The contract points (DESIGN.md section 3).
 *
 * @since 0.1.0
 * @category constants
 */
export const points: ReadonlyArray<number> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]

/**
 * A cell: every test of the point passed, one failed, the runtime refuses
 * the path (its one test checks the refusal), or no test of the point runs
 * on this suite (a capability it lacks).
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "pass" | "fail" | "refused" | "untested"

/**
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

/**
 * One suite on one runtime.
 *
 * @since 0.1.0
 * @category models
 */
export interface SuiteResult {
  readonly refused: boolean
  readonly points: Readonly<Record<string, Status>>
  readonly counts: Counts
  /** Titles of the failed tests. */
  readonly failures: ReadonlyArray<string>
}

/**
 * One runtime's results.
 *
 * @since 0.1.0
 * @category models
 */
export interface RuntimeResult {
  readonly version: string
  readonly suites: Readonly<Record<SuiteId, SuiteResult>>
  /** The consumer smoke test on this runtime (the installed tarballs' application), or `untested`. */
  readonly consumer: Status
}

/**
 * The results file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Results {
  readonly generatedAt: string
  readonly runtimes: Readonly<Partial<Record<Runtimes.RuntimeId, RuntimeResult>>>
}

/** The part of vitest's JSON report read here. */
export interface VitestReport {
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly assertionResults: ReadonlyArray<{
      readonly ancestorTitles: ReadonlyArray<string>
      readonly title: string
      readonly status: string
      readonly failureMessages?: ReadonlyArray<string> | null
    }>
  }>
}

/** The contract points a test's title names: `name [point 8, budget 16]`, `[points 2 and 3, budget 4]`. */
export const pointsOf = (title: string): ReadonlyArray<number> => {
  const match = /\[points? ([\d and]+), budget \d+\]/.exec(title)
  if (match === null || match[1] === undefined) return []
  return match[1].split(" and ").map(Number)
}

/** A refusal's title ends in `[refused]` (packages/node/test/runtime-support.ts). */
const isRefusal = (title: string) => title.endsWith("[refused]")

/** The title of the consumer smoke test on `runtime` (packages/consumer/test/consumer.test.ts). */
export const consumerTitle = (runtime: Runtimes.RuntimeId): string =>
  `runs the quickstart, mutual TLS and a STARTTLS upgrade on ${runtime}`

/**
 * A suite's result from a report; `undefined` when the report has no test of
 * it (the file did not run).
 */
export const suiteResult = (report: VitestReport, describe: string): SuiteResult | undefined => {
  const tests = report.testResults.flatMap((file) =>
    file.assertionResults.filter((test) => test.ancestorTitles[0] === describe)
  )
  if (tests.length === 0) return undefined
  const refused = tests.some((test) => isRefusal(test.title))
  const byPoint = new Map<number, Array<string>>()
  for (const test of tests) {
    for (const point of refused ? points : pointsOf(test.title)) {
      const statuses = byPoint.get(point) ?? []
      statuses.push(test.status)
      byPoint.set(point, statuses)
    }
  }
  const status = (point: number): Status => {
    const statuses = byPoint.get(point) ?? []
    if (statuses.includes("failed")) return "fail"
    if (statuses.includes("passed")) return refused ? "refused" : "pass"
    return "untested"
  }
  const count = (wanted: string) => tests.filter((test) => test.status === wanted).length
  return {
    refused,
    points: Object.fromEntries(points.map((point) => [String(point), status(point)])),
    counts: {
      passed: count("passed"),
      failed: count("failed"),
      skipped: tests.length - count("passed") - count("failed")
    },
    failures: tests.filter((test) => test.status === "failed").map((test) => test.title)
  }
}

/** The consumer smoke test's status on `runtime` in a report of the main run. */
export const consumerStatus = (report: VitestReport, runtime: Runtimes.RuntimeId): Status => {
  const title = consumerTitle(runtime)
  const test = report.testResults.flatMap((file) => file.assertionResults).find((t) => t.title === title)
  if (test === undefined) return "untested"
  return test.status === "passed" ? "pass" : test.status === "failed" ? "fail" : "untested"
}

/**
 * A runtime's results from the report of its conformance run and the
 * report that holds its consumer test; fails when a suite is missing (its
 * file did not run to the end).
 */
export const runtimeResult = (
  version: string,
  conformance: VitestReport,
  consumer: VitestReport | undefined,
  runtime: Runtimes.RuntimeId
): RuntimeResult => {
  const entries = suites.map((suite) => {
    const result = suiteResult(conformance, suite.describe)
    if (result === undefined) throw new Error(`${runtime}: the report has no test of "${suite.describe}"`)
    return [suite.id, result] as const
  })
  return {
    version,
    suites: Object.fromEntries(entries) as Record<SuiteId, SuiteResult>,
    consumer: consumer === undefined ? "untested" : consumerStatus(consumer, runtime)
  }
}

/** Whether anything failed. */
export const failed = (results: Results): boolean =>
  Object.values(results.runtimes).some(
    (runtime) =>
      runtime !== undefined &&
      (runtime.consumer === "fail" || Object.values(runtime.suites).some((suite) => suite.counts.failed > 0))
  )

const symbol: Record<Status, string> = { pass: "pass", fail: "**FAIL**", refused: "refused", untested: "–" }

const runtimeLabel = (id: Runtimes.RuntimeId, version: string) =>
  `${id.startsWith("node") ? "Node" : id === "bun" ? "Bun" : "Deno"} ${version}`

/**
 * The README's table: a row per runtime and suite, a column per contract
 * point, then the consumer smoke test.
 *
 * @since 0.1.0
 * @category rendering
 */
export const table = (results: Results): string => {
  const header = ["runtime", "path", "transport", ...points.map(String), "consumer"]
  const rows: Array<ReadonlyArray<string>> = []
  for (const runtime of Runtimes.all) {
    const result = results.runtimes[runtime.id]
    if (result === undefined) continue
    for (const [index, suite] of suites.entries()) {
      const suiteResult = result.suites[suite.id]
      rows.push([
        index === 0 ? runtimeLabel(runtime.id, result.version) : "",
        suite.path,
        suite.transport,
        ...points.map((point) => symbol[suiteResult.points[String(point)] ?? "untested"]),
        index === 0 ? symbol[result.consumer] : ""
      ])
    }
  }
  // Padded as the formatter (Biome) lays out a markdown table, so that `pnpm lint` leaves it alone.
  const widths = header.map((cell, i) => Math.max(3, cell.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`
  return [
    line(header),
    line(widths.map((width) => "-".repeat(width))),
    ...rows.map(line),
    "",
    `From the run of ${results.generatedAt.slice(0, 10)} (\`packages/runtimes/results.json\`). ` +
      "pass: every test of the point passed (each at every scheduling budget); refused: the runtime refuses the path " +
      "with `TlsRuntimeError` before any byte, which the row's one test checks; –: no test of the point applies to " +
      "that path (a capability it lacks, such as detectable truncation on the native path)."
  ].join("\n")
}

/** The README's markers around the table. */
export const markers = { start: "<!-- runtime-matrix:start -->", end: "<!-- runtime-matrix:end -->" } as const

/**
 * `readme` with the table between the markers replaced by `table`; fails
 * when the markers are missing.
 *
 * @since 0.1.0
 * @category rendering
 */
export const withTable = (readme: string, rendered: string): string => {
  const start = readme.indexOf(markers.start)
  const end = readme.indexOf(markers.end)
  if (start < 0 || end < start) throw new Error(`the README has no ${markers.start} ... ${markers.end} block`)
  return `${readme.slice(0, start + markers.start.length)}\n${rendered}\n${readme.slice(end)}`
}
