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

/**
 * The bytes `range.start`–`range.end` (inclusive) of `source`, as a stream.
 * The bytes before the range are read and dropped, and `source` is cancelled
 * as soon as the range is complete: a seek near the start of a large file
 * reads little of it, and no more than one chunk is held at a time.
 */
export function sliceStream(source: ReadableStream<Uint8Array>, range: ByteRange): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let offset = 0; // bytes of `source` read so far
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        const chunkStart = offset;
        offset += value.length;
        if (offset <= range.start) continue;
        controller.enqueue(value.subarray(Math.max(0, range.start - chunkStart), Math.min(value.length, range.end + 1 - chunkStart)));
        if (offset > range.end) {
          controller.close();
          await reader.cancel();
        }
        return;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
