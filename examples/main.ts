/**
 * `pnpm example <name>`: runs `examples/<name>.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as Effect from "effect/Effect"

const examples = ["echo", "mtls-rpc", "smtp-starttls", "postgres-sslrequest", "websocket"] as const
const name = process.argv[2]
if (name === undefined || !(examples as ReadonlyArray<string>).includes(name)) {
  console.error(`usage: pnpm example <${examples.join("|")}>`)
  process.exit(2)
}
const module: { readonly main: Effect.Effect<unknown, unknown> } = await import(`./${name}.ts`)
NodeRuntime.runMain(module.main)
