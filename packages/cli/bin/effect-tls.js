#!/usr/bin/env node
// The `effect-tls` command. The sources are TypeScript, run by Node 24's type
// stripping (the workspace's `node` devDependency, which pnpm's shim puts
// first on PATH); an older Node cannot run them, so say so instead of failing
// on syntax.
const [major] = process.versions.node.split(".").map(Number)
if (major < 23) {
  process.stderr.write(
    `error: UnsupportedNode: effect-tls needs Node 23.6 or later (type stripping), this is ${process.version}: run it with \`pnpm exec effect-tls\` from the workspace\n`
  )
  process.exit(1)
}
await import("../src/bin.ts")
