import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Matrix from "../src/Matrix.ts"
import * as Runtimes from "../src/Runtimes.ts"

type Test = Matrix.VitestReport["testResults"][number]["assertionResults"][number]

const test = (describe: string, title: string, status: string): Test => ({
  ancestorTitles: [describe],
  title,
  status,
  failureMessages: status === "failed" ? ["AssertionError: expected"] : []
})

const report = (...tests: ReadonlyArray<Test>): Matrix.VitestReport => ({
  testResults: [{ name: "/x/packages/node/test/conformance.test.ts", assertionResults: tests }]
})

const [native, memory, tcp] = Matrix.suites.map((suite) => suite.describe) as [string, string, string]

describe("Matrix", () => {
  it("reads the contract points from a test's title", () => {
    assert.deepStrictEqual(Matrix.pointsOf("half-close both ways [point 8, budget 16]"), [8])
    assert.deepStrictEqual(Matrix.pointsOf("split-safety: a KeyUpdate answer [points 2 and 3, budget 4]"), [2, 3])
    assert.deepStrictEqual(
      Matrix.pointsOf("a fatal engine error [point 10, budget 3] (skipped: needs injectFatalError)"),
      [10]
    )
    assert.deepStrictEqual(Matrix.pointsOf("a title without points"), [])
  })

  it("a point fails when one of its tests failed, passes when one passed and none failed, else is untested", () => {
    const result = Matrix.suiteResult(
      report(
        test(native, "a [point 8, budget 3]", "passed"),
        test(native, "a [point 8, budget 16]", "failed"),
        test(native, "b [points 2 and 3, budget 3]", "passed"),
        test(native, "c [point 10, budget 3] (skipped: needs injectFatalError)", "skipped"),
        test(memory, "a [point 1, budget 3]", "failed")
      ),
      native
    )
    assert.isDefined(result)
    if (result === undefined) return
    assert.deepInclude(result.points, { "8": "fail", "2": "pass", "3": "pass", "10": "untested", "1": "untested" })
    assert.deepStrictEqual(result.counts, { passed: 2, failed: 1, skipped: 1 })
    assert.deepStrictEqual(result.failures, ["a [point 8, budget 16]"])
    assert.isFalse(result.refused)
  })

  it("a refused path's one test marks every point refused, or failed if the refusal failed", () => {
    const title = "the duplex path is refused on bun 1.4.4 with TlsRuntimeError before any byte [refused]"
    const refused = Matrix.suiteResult(report(test(memory, title, "passed")), memory)
    assert.isTrue(refused?.refused)
    assert.deepStrictEqual(new Set(Object.values(refused?.points ?? {})), new Set(["refused"]))
    const broken = Matrix.suiteResult(report(test(memory, title, "failed")), memory)
    assert.deepStrictEqual(new Set(Object.values(broken?.points ?? {})), new Set(["fail"]))
  })

  it("a runtime whose report lacks a suite is an error, not an empty row", () => {
    assert.throws(
      () => Matrix.runtimeResult("1.4.4", report(test(native, "a [point 1, budget 3]", "passed")), undefined, "bun"),
      /has no test of "conformance: duplex path/
    )
  })

  it("renders a row per runtime and suite, and the consumer test once per runtime", () => {
    const main = report(
      test(native, "a [point 1, budget 3]", "passed"),
      test(memory, "a [point 1, budget 3]", "passed"),
      test(tcp, "a [point 1, budget 3]", "failed"),
      test("an application installs the tarballs with npm", Matrix.consumerTitle("node-24"), "passed")
    )
    const results: Matrix.Results = {
      generatedAt: "2026-12-02T05:00:00.000Z",
      runtimes: { "node-24": Matrix.runtimeResult("24.21.0", main, main, "node-24") }
    }
    const lines = Matrix.table(results).split("\n")
    const cells = (line: string | undefined) =>
      (line ?? "")
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim())
    assert.deepStrictEqual(cells(lines[0]), ["runtime", "path", "transport", ...Matrix.points.map(String), "consumer"])
    assert.deepStrictEqual(cells(lines[2]), ["Node 24.21.0", "native", "TCP", "pass", ...Array(11).fill("–"), "pass"])
    assert.deepStrictEqual(cells(lines[4]), ["", "duplex", "TCP", "**FAIL**", ...Array(11).fill("–"), ""])
    // Every line as wide as the header: the columns are padded.
    assert.deepStrictEqual(new Set(lines.slice(0, 5).map((line) => line.length)).size, 1)
    assert.isTrue(Matrix.failed(results))
  })

  it("puts the table between the README's markers, and refuses a README without them", () => {
    const readme = `# x\n\n${Matrix.markers.start}\nold\n${Matrix.markers.end}\n\nafter\n`
    assert.strictEqual(
      Matrix.withTable(readme, "new"),
      `# x\n\n${Matrix.markers.start}\nnew\n${Matrix.markers.end}\n\nafter\n`
    )
    assert.throws(() => Matrix.withTable("# x\n", "new"), /runtime-matrix:start/)
  })

  it("the README's table is the one the checked-in results file makes", () => {
    const results: Matrix.Results = JSON.parse(
      fs.readFileSync(path.join(import.meta.dirname, "..", "results.json"), "utf8")
    )
    const readme = fs.readFileSync(path.join(Runtimes.root, "README.md"), "utf8")
    assert.strictEqual(Matrix.withTable(readme, Matrix.table(results)), readme, "run `pnpm runtimes` to regenerate")
    // Every runtime has a row, and the checked-in results passed.
    assert.deepStrictEqual(Object.keys(results.runtimes).sort(), Runtimes.all.map((runtime) => runtime.id).sort())
    assert.isFalse(Matrix.failed(results))
  })
})
