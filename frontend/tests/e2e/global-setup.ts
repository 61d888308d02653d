/**
 * Starts the two servers the browser tests use, on free ports:
 * Django (`manage.py runserver --noreload`, one process) with a temporary
 * SQLite database and media folder, and the Next production build
 * (`next start`) with `BACKEND_URL` pointing at that Django. Both logs go to
 * `test-artifacts/`. The returned function stops both and removes the
 * temporary folder. Tests find the site at `process.env.E2E_BASE_URL`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const FRONTEND = path.resolve(__dirname, "..", "..");
const REPO = path.resolve(FRONTEND, "..");
const ARTIFACTS = path.join(REPO, "test-artifacts");
const PYTHON = path.join(REPO, ".venv", "bin", "python");

/** A TCP port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolve once `url` answers with a 2xx, or reject after `timeoutMs` (or when `child` exits). */
async function waitFor(url: string, child: ChildProcess, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see test-artifacts/e2e-${name}.log`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} did not answer ${url} within ${timeoutMs / 1000} s`);
}

function start(name: string, command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  const log = createWriteStream(path.join(ARTIFACTS, `e2e-${name}.log`));
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup first.`);
  if (!existsSync(path.join(FRONTEND, ".next", "BUILD_ID"))) {
    throw new Error("No production build in frontend/.next: run `npm run build` (scripts/test does) first.");
  }

  const tmp = mkdtempSync(path.join(os.tmpdir(), "storyflow-e2e-"));
  const backendEnv: NodeJS.ProcessEnv = {
    ...process.env,
    STORYFLOW_DB_PATH: path.join(tmp, "db.sqlite3"),
    STORYFLOW_MEDIA_ROOT: path.join(tmp, "media"),
    STORYFLOW_LOG_LEVEL: "INFO",
    PYTHONUNBUFFERED: "1",
  };
  const migrate = spawnSync(PYTHON, ["manage.py", "migrate", "--noinput"], { cwd: REPO, env: backendEnv, encoding: "utf8" });
  if (migrate.status !== 0) throw new Error(`migrate failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const djangoPort = await freePort();
  const nextPort = await freePort();
  // The editor's origin on this run's port: Django refuses writes from any other web origin.
  backendEnv.STORYFLOW_ALLOWED_ORIGINS = `http://127.0.0.1:${nextPort},http://localhost:${nextPort}`;
  const django = start("django", PYTHON, ["manage.py", "runserver", `127.0.0.1:${djangoPort}`, "--noreload"], REPO, backendEnv);
  const backendUrl = `http://127.0.0.1:${djangoPort}`;

  const next = start(
    "next",
    process.execPath,
    [path.join(FRONTEND, "node_modules", "next", "dist", "bin", "next"), "start", "-H", "127.0.0.1", "-p", String(nextPort)],
    FRONTEND,
    { ...process.env, BACKEND_URL: backendUrl, NEXT_TELEMETRY_DISABLED: "1" },
  );
  const baseUrl = `http://127.0.0.1:${nextPort}`;

  const teardown = async () => {
    await Promise.all([stop(next), stop(django)]);
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await waitFor(`${backendUrl}/api/settings/`, django, "django");
    await waitFor(`${baseUrl}/api/settings/`, next, "next"); // through the proxy
  } catch (error) {
    await teardown();
    throw error;
  }
  process.env.E2E_BASE_URL = baseUrl;
  process.env.E2E_BACKEND_URL = backendUrl;
  return teardown;
}
