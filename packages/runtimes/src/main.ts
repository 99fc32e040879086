/**
 * `node packages/runtimes/src/main.ts [--runtime=node-22,bun,deno] [--check]`
 *
 * The runtime matrix, the last step of `pnpm test`: runs the conformance
 * suite and the runtime regression tests (`packages/node/test/runtime.test.ts`)
 * under vitest on each runtime, one after the other, each writing vitest's
 * JSON report to `.runtime-results/<runtime>.json`. Node 24's report is the
 * main run's (`pnpm test` writes it there), which also holds the consumer
 * smoke test of every runtime. Then it writes the results file
 * (`packages/runtimes/results.json`) and the README's table from it, prints
 * one line per runtime, and exits 1 if any test failed or a run did not
 * finish.
 *
 * `--check` runs nothing: it exits 1 when the README's table is not the one
 * `results.json` makes (a hand edit).
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Matrix from "./Matrix.ts"
import * as Runtimes from "./Runtimes.ts"

const resultsDir = path.join(Runtimes.root, ".runtime-results")
const resultsFile = path.join(import.meta.dirname, "..", "results.json")
const readmeFile = path.join(Runtimes.root, "README.md")
/** The files each runtime runs: the suite and the reproductions behind the refusals. */
const files = [...Matrix.conformanceFiles, "packages/node/test/runtime.test.ts"]
/** Bound on one runtime's run (the suite takes a few minutes). */
const runTimeoutMs = 15 * 60_000

const reportPath = (id: Runtimes.RuntimeId) => path.join(resultsDir, `${id}.json`)

const readReport = (file: string): Matrix.VitestReport | undefined =>
  fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined

/**
 * Runs vitest on `runtime` in a process group of its own, killed after the
 * bound. Its output goes to a log next to the report; the report is what counts.
 */
const runOn = (runtime: Runtimes.RuntimeUnderTest): Promise<{ readonly code: number | null; readonly log: string }> => {
  const output = reportPath(runtime.id)
  fs.rmSync(output, { force: true })
  const log = path.join(resultsDir, `${runtime.id}.log`)
  const [command, args] = Runtimes.vitest(runtime, files, output)
  const fd = fs.openSync(log, "w")
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: Runtimes.root,
      env: { ...process.env, FORCE_COLOR: "0" },
      detached: true,
      stdio: ["ignore", fd, fd]
    })
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.pid > 0) process.kill(-child.pid, "SIGKILL")
    }, runTimeoutMs)
    const finish = (code: number | null) => {
      clearTimeout(timer)
      fs.closeSync(fd)
      // Whatever the run left in its group (a worker) goes with it.
      try {
        if (child.pid !== undefined && child.pid > 0) process.kill(-child.pid, "SIGKILL")
      } catch {
        // the group is gone
      }
      resolve({ code, log })
    }
    child.on("error", () => finish(null))
    child.on("close", (code) => finish(code))
  })
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  let selected: ReadonlyArray<Runtimes.RuntimeUnderTest> = Runtimes.all.filter((runtime) => runtime.id !== "node-24")
  let check = false
  for (const arg of argv) {
    if (arg === "--check") check = true
    else if (arg.startsWith("--runtime=")) selected = arg.slice("--runtime=".length).split(",").map(Runtimes.get)
    else throw new Error(`unknown argument ${arg}`)
  }
  return { selected, check }
}

const describeSuite = (result: Matrix.SuiteResult) =>
  result.refused
    ? "refused"
    : `${result.counts.passed} passed, ${result.counts.failed} failed, ${result.counts.skipped} skipped`

const main = async () => {
  const { selected, check } = parseArgs(process.argv.slice(2))
  if (check) {
    const results: Matrix.Results = JSON.parse(fs.readFileSync(resultsFile, "utf8"))
    const readme = fs.readFileSync(readmeFile, "utf8")
    if (Matrix.withTable(readme, Matrix.table(results)) !== readme) {
      console.error("README.md: the runtime table is not the one packages/runtimes/results.json makes: run the matrix")
      process.exit(1)
    }
    return
  }
  fs.mkdirSync(resultsDir, { recursive: true })
  const main = readReport(reportPath("node-24"))
  const problems: Array<string> = []
  const runtimes: Partial<Record<Runtimes.RuntimeId, Matrix.RuntimeResult>> = {}
  const previous: Matrix.Results | undefined = fs.existsSync(resultsFile)
    ? JSON.parse(fs.readFileSync(resultsFile, "utf8"))
    : undefined
  for (const runtime of Runtimes.all) {
    const version = Runtimes.versionOf(runtime)
    let report: Matrix.VitestReport | undefined
    if (selected.includes(runtime)) {
      const started = performance.now()
      process.stdout.write(`runtime matrix: ${runtime.id} (${version}) ...`)
      const ran = await runOn(runtime)
      report = readReport(reportPath(runtime.id))
      process.stdout.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
      if (report === undefined)
        problems.push(`${runtime.id}: vitest wrote no report (exit ${ran.code}): see ${ran.log}`)
    } else if (runtime.id === "node-24") {
      report = main
      if (report === undefined) console.log(`runtime matrix: no report of the main run in ${reportPath("node-24")}`)
    }
    if (report === undefined) {
      // Not run now: the last results stand.
      const kept = previous?.runtimes[runtime.id]
      if (kept !== undefined) runtimes[runtime.id] = kept
      continue
    }
    try {
      const fresh = Matrix.runtimeResult(version, report, main, runtime.id)
      // Without the main run's report, the consumer test's last result stands.
      const result =
        main === undefined ? { ...fresh, consumer: previous?.runtimes[runtime.id]?.consumer ?? fresh.consumer } : fresh
      runtimes[runtime.id] = result
      for (const suite of Matrix.suites) {
        const suiteResult = result.suites[suite.id]
        console.log(`  ${runtime.id} ${suite.path} over ${suite.transport}: ${describeSuite(suiteResult)}`)
        for (const title of suiteResult.failures) problems.push(`${runtime.id} ${suite.id}: ${title}`)
      }
      if (result.consumer === "fail") problems.push(`${runtime.id}: the consumer smoke test failed`)
      const regressions = report.testResults
        .filter((file) => file.name.endsWith("runtime.test.ts"))
        .flatMap((file) => file.assertionResults)
      const failedRegressions = regressions.filter((test) => test.status === "failed")
      console.log(
        `  ${runtime.id} runtime regression tests: ${regressions.length - failedRegressions.length} of ${regressions.length} passed`
      )
      for (const test of failedRegressions) {
        problems.push(
          `${runtime.id} runtime.test.ts: ${test.title}\n    ${(test.failureMessages ?? []).join("\n").slice(0, 600)}`
        )
      }
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error))
    }
  }
  const results: Matrix.Results = { generatedAt: new Date().toISOString(), runtimes }
  fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`)
  const readme = fs.readFileSync(readmeFile, "utf8")
  fs.writeFileSync(readmeFile, Matrix.withTable(readme, Matrix.table(results)))
  const totals = Object.values(runtimes).flatMap((runtime) => Object.values(runtime?.suites ?? {}))
  const sum = (key: keyof Matrix.Counts) => totals.reduce((n, suite) => n + suite.counts[key], 0)
  console.log(
    `runtime matrix: ${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped; ` +
      `results in ${path.relative(Runtimes.root, resultsFile)}, the table in README.md`
  )
  if (problems.length > 0) {
    console.error(`runtime matrix: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`)
    process.exit(1)
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
