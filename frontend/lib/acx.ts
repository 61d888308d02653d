/**
 * Reading an ACX export's report (`export.report`) for display: one line per
 * written file with pass/fail, and the checks behind it.
 *
 * The report is computed by the audiobook builder on the written files
 * (44.1 kHz, 192 kbps CBR, RMS −23…−18 dB, peaks ≤ −3 dB, 0.5–1 s of room
 * tone at the head, 1–5 s at the tail). The contract does not fix its keys,
 * so this reader accepts the usual spellings: a `files` list (or `chapters`,
 * or an object keyed by file name), each file with a name (`file`, `name`,
 * `filename`, `path`), a verdict (`passed`, `pass`, `ok`) and checks (a list
 * of `{name, passed, value}` or an object of check → verdict or
 * `{passed, value}`). A file without its own verdict passes when all of its
 * checks pass.
 */
import type { AcxReport } from "./types";

/** One ACX check of one file: its name, verdict and measured value as text (when given). */
export interface AcxCheck {
  name: string;
  passed: boolean | null;
  value: string | null;
}

/** One file of an ACX export and its checks. */
export interface AcxFileResult {
  name: string;
  passed: boolean | null;
  checks: AcxCheck[];
}

type Dict = Record<string, unknown>;
const isDict = (value: unknown): value is Dict => !!value && typeof value === "object" && !Array.isArray(value);

/** A verdict from `passed` / `pass` / `ok` / `status: "pass"|"fail"`, or null when there is none. */
function verdict(entry: Dict): boolean | null {
  for (const key of ["passed", "pass", "ok", "passes"]) {
    if (typeof entry[key] === "boolean") return entry[key] as boolean;
  }
  const status = entry.status ?? entry.result;
  if (typeof status === "string") {
    if (/^(pass(ed)?|ok)$/i.test(status)) return true;
    if (/^fail(ed)?$/i.test(status)) return false;
  }
  return null;
}

function valueText(value: unknown): string | null {
  if (value == null) return null;
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === "string" || typeof value === "boolean") return String(value);
  return null;
}

const NAME_KEYS = ["file", "name", "filename", "path", "title"];
const NOT_CHECKS = new Set([...NAME_KEYS, "passed", "pass", "ok", "passes", "status", "result", "checks", "chapter", "index"]);

function readChecks(entry: Dict): AcxCheck[] {
  const raw = entry.checks;
  if (Array.isArray(raw)) {
    return raw.filter(isDict).map((check, index) => ({
      name: String(check.name ?? check.check ?? check.id ?? `check ${index + 1}`),
      passed: verdict(check),
      value: valueText(check.value ?? check.measured ?? check.actual),
    }));
  }
  const source: Dict = isDict(raw) ? raw : entry;
  const checks: AcxCheck[] = [];
  for (const [name, value] of Object.entries(source)) {
    if (source === entry && NOT_CHECKS.has(name)) continue;
    if (typeof value === "boolean") checks.push({ name, passed: value, value: null });
    else if (isDict(value)) checks.push({ name, passed: verdict(value), value: valueText(value.value ?? value.measured ?? value.actual) });
  }
  return checks;
}

function readFile(entry: unknown, index: number, fallbackName?: string): AcxFileResult | null {
  if (!isDict(entry)) return null;
  const nameKey = NAME_KEYS.find((key) => typeof entry[key] === "string");
  const name = nameKey ? String(entry[nameKey]).split("/").pop()! : fallbackName ?? `File ${index + 1}`;
  const checks = readChecks(entry);
  let passed = verdict(entry);
  if (passed === null && checks.length && checks.every((check) => check.passed !== null)) {
    passed = checks.every((check) => check.passed);
  }
  return { name, passed, checks };
}

/** The per-file results of an ACX report, in the report's order ([] for a missing or unreadable report). */
export function acxFileResults(report: AcxReport | null | undefined): AcxFileResult[] {
  if (!isDict(report)) return [];
  const list = report.files ?? report.chapters ?? report.results;
  if (Array.isArray(list)) {
    return list.map((entry, index) => readFile(entry, index)).filter((file): file is AcxFileResult => !!file);
  }
  if (isDict(list)) {
    return Object.entries(list)
      .map(([name, entry], index) => readFile(entry, index, name))
      .filter((file): file is AcxFileResult => !!file);
  }
  return [];
}

/** The report's overall verdict: its own `passed`, else whether every file passed; null when unknown. */
export function acxPassed(report: AcxReport | null | undefined): boolean | null {
  if (!isDict(report)) return null;
  const own = verdict(report);
  if (own !== null) return own;
  const files = acxFileResults(report);
  if (!files.length || files.some((file) => file.passed === null)) return null;
  return files.every((file) => file.passed);
}
