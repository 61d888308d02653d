import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Unit tests: lib/ and components/ in jsdom. The browser tests (tests/e2e) run under Playwright instead. */
export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL("./", import.meta.url)) } },
  oxc: { jsx: { runtime: "automatic" } },
  test: {
    environment: "jsdom",
    include: ["tests/unit/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
