/**
 * The pacing arithmetic of the editor's *Play all*: which segments play, and
 * the silence before each one and after the last, from the project's pacing.
 *
 * The rules are the export's (issue 8 / `audiobook.plan_book`), so Play all
 * sounds like the exported book:
 * - the first segment is preceded by `lead_in`;
 * - between two segments, `chapter_pause` when the second starts a chapter,
 *   else `paragraph_pause`;
 * - `tail` after the last.
 *
 * Play all can only play segments that have audio. When segments without
 * audio lie between two that are played, the pause is a chapter pause if any
 * of the skipped segments (or the played one) starts a chapter, so a chapter
 * break is never lost because its heading has no audio yet.
 *
 * All times are in seconds.
 */
import type { Pacing, Segment } from "./types";

/** Which pause comes before a segment: the lead-in (first one played), a paragraph pause or a chapter pause. */
export type PauseKind = "lead-in" | "paragraph" | "chapter";

/** One segment of a Play-all run and the silence before it, in seconds. */
export interface PlayStep {
  segmentId: string;
  pauseBefore: number;
  pauseKind: PauseKind;
}

/** A Play-all run: the segments in order with their pauses, and the silence after the last one. */
export interface PlayPlan {
  steps: PlayStep[];
  /** Seconds of silence after the last segment (0 when nothing plays). */
  tail: number;
}

/** The fields of a segment that Play all needs. */
export type PlayableSegment = Pick<Segment, "id" | "audio_file" | "chapter_title">;

/** True when the segment starts a chapter (a non-blank `chapter_title`). */
export function startsChapter(segment: Pick<Segment, "chapter_title">): boolean {
  return typeof segment.chapter_title === "string" && segment.chapter_title.trim() !== "";
}

/**
 * The Play-all plan of `segments` (in book order) from position `fromIndex`
 * (0-based, into `segments`) with the project's `pacing` (seconds, as the
 * API gives them: 0–10 each): segments without audio are skipped; the first
 * one played gets `lead_in`, each later one `chapter_pause` or
 * `paragraph_pause` (see the module rules), and the plan ends with `tail`.
 */
export function playAllPlan(
  segments: readonly PlayableSegment[],
  pacing: Pacing,
  fromIndex = 0,
): PlayPlan {
  const { paragraph_pause, chapter_pause, lead_in, tail } = pacing;
  const steps: PlayStep[] = [];
  let chapterSincePrevious = false;
  for (let index = Math.max(0, fromIndex); index < segments.length; index += 1) {
    const segment = segments[index];
    if (startsChapter(segment)) chapterSincePrevious = true;
    if (!segment.audio_file) continue;
    const pauseKind: PauseKind = steps.length === 0 ? "lead-in" : chapterSincePrevious ? "chapter" : "paragraph";
    const pauseBefore = { "lead-in": lead_in, chapter: chapter_pause, paragraph: paragraph_pause }[pauseKind];
    steps.push({ segmentId: segment.id, pauseBefore, pauseKind });
    chapterSincePrevious = false;
  }
  return { steps, tail: steps.length ? tail : 0 };
}

/**
 * Where each step's audio starts in a Play-all run, and how long the whole
 * run lasts (pauses + audio + tail), given each segment's audio duration in
 * seconds (`durations[segmentId]`; a missing one counts as 0).
 */
export function planTimes(plan: PlayPlan, durations: Readonly<Record<string, number | null | undefined>>): {
  starts: number[];
  total: number;
} {
  const starts: number[] = [];
  let clock = 0;
  for (const step of plan.steps) {
    clock += step.pauseBefore;
    starts.push(clock);
    clock += durations[step.segmentId] ?? 0;
  }
  return { starts, total: plan.steps.length ? clock + plan.tail : 0 };
}
