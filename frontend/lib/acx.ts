/**
 * An ACX export's report (`export.report`, {@link AcxReport}, written by
 * `backend/audiobook/acx.py`) in words, for the export list.
 */
import type { AcxCheck, AcxFileReport } from "./types";

/** A check's measured value with its unit: `-25.31 dB`, `44100 Hz`, `CBR`; null when it was not measured. */
export function checkValue(check: AcxCheck): string | null {
  const { value, unit } = check;
  if (value === null) return null;
  const text = typeof value === "number" && !Number.isInteger(value) ? value.toFixed(2) : String(value);
  return unit ? `${text} ${unit}` : text;
}

/** One check in words: `"rms -25.31 dB (needs -23 to -18 dB)"`. */
export function describeCheck(name: string, check: AcxCheck): string {
  const value = checkValue(check);
  return `${name.replace(/_/g, " ")}${value ? ` ${value}` : ""} (needs ${check.requirement})`;
}

/** The checks `file` failed, in the report's order, each in words. */
export function failedChecks(file: AcxFileReport): string[] {
  return Object.entries(file.checks)
    .filter(([, check]) => !check.passed)
    .map(([name, check]) => describeCheck(name, check));
}
