#!/usr/bin/env node
// The `effect-tls` command, run by the `node` on the user's PATH, so that
// SIGINT and SIGTERM reach the server itself. It checks the version first,
// in syntax any Node parses, then loads the program through the package's own
// `exports`: the built JavaScript (dist/bin.js) once installed, the TypeScript
// sources in this workspace (which Node 22.19+ runs by stripping the types).
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `error: UnsupportedNode: effect-tls needs Node 22.19 or later (what Effect 4 needs), this is ${process.version}\n`
  )
  process.exit(1)
}
await import("@effect-tls/cli/bin")
