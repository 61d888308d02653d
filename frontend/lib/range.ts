/**
 * HTTP byte ranges (RFC 9110 §14) for serving audio: a single `bytes=` range
 * is enough for `<audio>` seeking.
 */

/** An inclusive byte range of a body of `size` bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parse a `Range` header for a body of `size` bytes.
 *
 * Returns the range (end clamped to the last byte), `"unsatisfiable"` for a
 * range that starts past the end (answer 416), or null when the header is
 * absent, malformed or asks for several ranges (answer 200 with the whole body).
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, first, last] = match;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return null;
  return { start, end };
}
