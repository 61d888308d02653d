import { defineConfig } from "@playwright/test";

/**
 * Browser tests: Debian's Chromium against the real Django backend and the
 * real Kokoro model. `tests/e2e/global-setup.ts` starts Django and the Next
 * production server on free ports with a temporary database and media folder,
 * and stops them afterwards. One worker: the backend narrates one task at a
 * time, so parallel tests would only queue behind each other.
 */
export default defineConfig({
  testDir: "tests/e2e",
  globalSetup: "./tests/e2e/global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    viewport: { width: 1280, height: 900 },
    actionTimeout: 15_000,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
      ],
    },
  },
});
