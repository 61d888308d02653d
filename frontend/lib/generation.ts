/**
 * What the editor says when Generate all starts (issue 9): how many segments
 * will be generated because they have no audio, and how many because their
 * audio is out of date.
 */
import { countOf } from "./format";
import type { BulkTaskResponse, Segment } from "./types";

/**
 * The notice for a started batch: `"Generating 3 segments: 2 missing audio,
 * 1 out of date."`, with the backend's message after it when it mentions
 * skipped segments. Null when the answer has neither count (an older backend)
 * and nothing was skipped.
 */
export function generateAllNotice(answer: BulkTaskResponse): string | null {
  const missing = answer.segments_missing_audio;
  const stale = answer.segments_stale;
  const skipped = answer.message && /skipped/i.test(answer.message) ? answer.message : null;
  if (missing == null && stale == null) return skipped;
  const parts: string[] = [];
  if (missing != null) parts.push(`${missing} missing audio`);
  if (stale != null) parts.push(`${stale} out of date`);
  const counts = `Generating ${countOf(answer.segments_to_process, "segment")}: ${parts.join(", ")}.`;
  return skipped ? `${counts} ${skipped}` : counts;
}

/**
 * The segments a Generate all with these options will work on, as the
 * backend picks them: not locked (when skipping locked ones), with text, and
 * without audio or with out-of-date audio (all of them with `forceRegenerate`).
 */
export function segmentsToGenerate(
  segments: readonly Pick<Segment, "id" | "is_locked" | "audio_file" | "audio_stale" | "text_content">[],
  options: { skipLocked: boolean; forceRegenerate: boolean },
): string[] {
  return segments
    .filter((segment) => !(options.skipLocked && segment.is_locked))
    .filter((segment) => options.forceRegenerate || !segment.audio_file || segment.audio_stale)
    .filter((segment) => segment.text_content.trim())
    .map((segment) => segment.id);
}
