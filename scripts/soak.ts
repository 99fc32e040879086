// `pnpm soak`: the conformance suite of every implementation under many more
// scheduling budgets and seeds than `pnpm test` runs (minutes, not seconds).
//
//   pnpm soak [--seeds N] [--budgets 3,4,5,...] [--seed S] [vitest filter...]
//
// The first seed is printed; a failure prints the budget and seed that replay it.
import { spawnSync } from "node:child_process"
import { parseArgs } from "node:util"

const { values, positionals } = parseArgs({
  options: {
    seeds: { type: "string", default: "20" },
    budgets: { type: "string", default: "3,4,5,6,7,9,11,16,32,64,256,2048" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) }
  },
  allowPositionals: true
})

const files = positionals.length > 0 ? positionals : ["conformance"]
console.log(
  `soak: budgets ${values.budgets}, ${values.seeds} seeds per budget from ${values.seed}, files ${files.join(" ")}`
)
const started = Date.now()
const result = spawnSync(
  process.execPath,
  ["node_modules/vitest/vitest.mjs", "run", "--project", "workspace", ...files],
  {
    stdio: "inherit",
    env: {
      ...process.env,
      EFFECT_TLS_BUDGETS: values.budgets,
      EFFECT_TLS_SEEDS: values.seeds,
      EFFECT_TLS_SEED: values.seed
    }
  }
)
console.log(`soak: ${result.status === 0 ? "passed" : "FAILED"} in ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(result.status ?? 1)
