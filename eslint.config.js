// Type-aware lint for the whole monorepo. Security-relevant rules stay on
// (no floating promises, exhaustive switches); core may not import node:* or drivers.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "packages/proto/gen/**", ".aesp/**", "bench/results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] }] }],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
    },
  },
  {
    files: ["packages/core/src/**/*.ts"],
    ignores: ["packages/core/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["node:*", "fs", "path", "crypto", "http", "http2", "net", "tls", "os", "child_process"], message: "core is pure: take the effect as a port." },
        { group: ["better-sqlite3", "pg", "kysely", "fastify", "@connectrpc/*", "@aesp/host", "@aesp/proto/*", "pino", "prom-client"], message: "core must not depend on drivers, transports or protocol types." },
      ] }],
      "no-restricted-globals": ["error", { name: "process", message: "core reads no environment." }],
      "no-restricted-properties": ["error",
        { object: "Date", property: "now", message: "use the Clock port" },
        { object: "Math", property: "random", message: "use the IdSource port" }],
    },
  },
  {
    files: ["packages/client/src/**/*.ts", "packages/runtime/src/**/*.ts", "packages/cli/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["@aesp/host", "@aesp/host/*"], message: "SDKs and the CLI talk to the Host over the wire only (the CLI's `start` uses a dynamic import)." },
        { group: ["**/core/src/**", "**/host/src/**", "**/proto/gen/**"], message: "import other packages by name, never by path." },
      ] }],
    },
  },
  {
    files: ["packages/host/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [
        { group: ["**/core/src/**", "**/proto/gen/**"], message: "import other packages by name (@aesp/core, @aesp/proto/<file>), never by path." },
      ] }],
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
);
