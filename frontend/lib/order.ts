/**
 * Ordering of a project's segments.
 *
 * The backend orders by `sequence_index` (then id) and lets any segment's
 * index be PATCHed, so reordering is done by giving every segment its
 * position in the wanted order (0, 1, 2, ...) and PATCHing only those whose
 * index changes.
 */
import type { Segment } from "./types";

/** One PATCH of a reorder: set `segmentId`'s `sequence_index` to `sequenceIndex`. */
export interface IndexChange {
  segmentId: string;
  sequenceIndex: number;
}

/** Segments sorted as the backend sorts them: by `sequence_index`, then id. */
export function sortSegments<T extends Pick<Segment, "id" | "sequence_index">>(segments: T[]): T[] {
  return [...segments].sort((a, b) => a.sequence_index - b.sequence_index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The PATCHes that give `ordered[i]` the index `i`, leaving segments already in place alone. */
export function renumber(ordered: Pick<Segment, "id" | "sequence_index">[]): IndexChange[] {
  return ordered.flatMap((segment, index) =>
    segment.sequence_index === index ? [] : [{ segmentId: segment.id, sequenceIndex: index }],
  );
}

/**
 * The PATCHes that move the segment at `from` one place up (`-1`) or down (`+1`).
 * Returns no changes when the move would leave the list.
 */
export function moveChanges(segments: Pick<Segment, "id" | "sequence_index">[], from: number, step: -1 | 1): IndexChange[] {
  const ordered = sortSegments(segments);
  const to = from + step;
  if (from < 0 || from >= ordered.length || to < 0 || to >= ordered.length) return [];
  [ordered[from], ordered[to]] = [ordered[to], ordered[from]];
  return renumber(ordered);
}
