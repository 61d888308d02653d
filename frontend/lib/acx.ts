/**
 * Reading an ACX export's report (`export.report`) for display: one line per
 * written file with pass/fail, and the checks behind it.
 *
 * The report is computed by the audiobook builder on the written files
 * (`backend/audiobook/acx.py`, `build_report`):
 * `{"standard", "measured_on", "passed", "requirements", "files": [{"file",
 * "duration", "passed", "checks": {name: {"value", "unit", "requirement",
 * "passed"}}, "error"?}]}` with checks sample_rate, bit_rate,
 * constant_bit_rate, rms, peak, head_room_tone, tail_room_tone and length.
 *
 * The contract does not fix these keys, so the reader is lenient: it also
 * takes files keyed by name, checks as a list of `{name, passed, value}` or
 * as plain booleans, and `pass`/`ok` for `passed`. A file without its own
 * verdict passes when all of its checks pass.
 */
import type { AcxReport } from "./types";

/** One ACX check of one file: its name, verdict, measured value with its unit, and the requirement (as text, when given). */
export interface AcxCheck {
  name: string;
  passed: boolean | null;
  value: string | null;
  requirement: string | null;
}

/** One file of an ACX export, its checks, and why it could not be measured (when it could not). */
export interface AcxFileResult {
  name: string;
  passed: boolean | null;
  checks: AcxCheck[];
  error: string | null;
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

function valueText(value: unknown, unit?: unknown): string | null {
  let text: string | null = null;
  if (typeof value === "number") text = Number.isInteger(value) ? String(value) : value.toFixed(2);
  else if (typeof value === "string" || typeof value === "boolean") text = String(value);
  if (text === null) return null;
  return typeof unit === "string" && unit ? `${text} ${unit}` : text;
}

const textOrNull = (value: unknown): string | null => (typeof value === "string" && value ? value : null);

const NAME_KEYS = ["file", "name", "filename", "path", "title"];
const NOT_CHECKS = new Set([
  ...NAME_KEYS, "passed", "pass", "ok", "passes", "status", "result", "checks", "chapter", "index", "duration", "error",
]);

function readChecks(entry: Dict): AcxCheck[] {
  const raw = entry.checks;
  if (Array.isArray(raw)) {
    return raw.filter(isDict).map((check, index) => ({
      name: String(check.name ?? check.check ?? check.id ?? `check ${index + 1}`),
      passed: verdict(check),
      value: valueText(check.value ?? check.measured ?? check.actual, check.unit),
      requirement: textOrNull(check.requirement),
    }));
  }
  const source: Dict = isDict(raw) ? raw : entry;
  const checks: AcxCheck[] = [];
  for (const [name, value] of Object.entries(source)) {
    if (source === entry && NOT_CHECKS.has(name)) continue;
    if (typeof value === "boolean") checks.push({ name, passed: value, value: null, requirement: null });
    else if (isDict(value)) {
      checks.push({
        name,
        passed: verdict(value),
        value: valueText(value.value ?? value.measured ?? value.actual, value.unit),
        requirement: textOrNull(value.requirement),
      });
    }
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
  return { name, passed, checks, error: textOrNull(entry.error) };
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
