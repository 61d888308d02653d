/** Small formatting helpers for durations and times shown in the editor. */

/** `83.4` → `"1:23"`, `4.2` → `"0:04"`, `3725` → `"1:02:05"`; null/NaN → `"–"`. Input in seconds. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "–";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Precise seconds for a single clip: `2.345` → `"2.35 s"`. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  return `${seconds.toFixed(2)} s`;
}

/** An ETA in words: `4` → `"about 4 s left"`, `95` → `"about 1 min 35 s left"`. Seconds in. */
export function formatEta(seconds: number | null | undefined): string | null {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return null;
  const total = Math.max(1, Math.round(seconds));
  if (total < 60) return `about ${total} s left`;
  const m = Math.floor(total / 60);
  const s = total % 60;
  return s ? `about ${m} min ${s} s left` : `about ${m} min left`;
}

/** A date for the project list, e.g. "21 Nov 2026, 20:19", in the user's locale/time zone. */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The message of a thrown value: `Error.message`, or the value as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A count with its noun: `countOf(1, "chapter")` → `"1 chapter"`, `countOf(3, "chapter")` → `"3 chapters"`. */
export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** A file size: `512` → `"512 B"`, `2_400_000` → `"2.3 MB"` (binary units, one decimal from KB up). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return "–";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
