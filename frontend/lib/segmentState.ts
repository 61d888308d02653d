/**
 * What each segment's status badge says, derived from the segment and the
 * tasks the editor knows about.
 */
import { isTerminalStatus, type Segment, type TaskStatusResponse } from "./types";

/** A segment's generation state as shown by its badge. */
export type SegmentBadge = "none" | "queued" | "generating" | "ready" | "error";

/** The badge plus, for `error`, the backend's error text. */
export interface SegmentState {
  badge: SegmentBadge;
  error?: string;
}

/**
 * The segment ids a task works on: its `segment_ids` (progress issue), else
 * its single `segment_id`, else what the editor expected when it started the
 * task (`expected`), else nothing.
 */
export function taskSegmentIds(task: TaskStatusResponse, expected?: string[]): string[] {
  if (task.segment_ids && task.segment_ids.length) return task.segment_ids;
  if (task.segment_id) return [task.segment_id];
  return expected ?? [];
}

/**
 * The state of `segment` given `tasks`, oldest first: the latest task that
 * says something about the segment wins.
 *
 * - completed by a task → ready; failed in a task → error (with its text);
 * - in a running task: being synthesized now → generating, still ahead → queued;
 * - otherwise ready when the segment has audio, none when it has not.
 *
 * `expected` maps task id → the segment ids the editor expects it to process,
 * for a backend that does not report `segment_ids`.
 */
export function segmentState(
  segment: Pick<Segment, "id" | "audio_file">,
  tasks: TaskStatusResponse[],
  expected: Record<string, string[]> = {},
): SegmentState {
  let state: SegmentState | null = null;
  for (const task of tasks) {
    const ids = taskSegmentIds(task, expected[task.task_id]);
    const involved = ids.includes(segment.id) || task.progress?.current_segment_id === segment.id;
    if (task.completed_segments?.some((done) => done.segment_id === segment.id)) {
      state = { badge: "ready" };
      continue;
    }
    const error = task.errors?.find(
      (entry) => entry.segment_id === segment.id || (entry.segment_id == null && ids.length === 1 && ids[0] === segment.id),
    );
    if (error) {
      state = { badge: "error", error: error.error };
      continue;
    }
    if (!involved || isTerminalStatus(task.status)) continue;
    const single = ids.length === 1 && ids[0] === segment.id;
    const current = task.progress?.current_segment_id === segment.id || (single && !task.progress?.current_segment_id);
    state = { badge: task.status === "PROCESSING" && current ? "generating" : "queued" };
  }
  return state ?? { badge: segment.audio_file ? "ready" : "none" };
}
