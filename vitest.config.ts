import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "workspace",
          include: ["packages/*/test/**/*.test.ts"],
          exclude: ["packages/consumer/**"]
        }
      },
      {
        // Packs, installs and runs the published packages: after every other test, on its own,
        // so that its builds and installs take no time from tests that measure time.
        extends: true,
        test: {
          name: "consumer",
          include: ["packages/consumer/test/**/*.test.ts"],
          sequence: { groupOrder: 1 }
        }
      }
    ]
  }
})
