"use client";
/**
 * The project's chapters (from the project detail's `chapters`): each one
 * jumps to the segment that starts it, or plays the book from there.
 */
import type { ProjectChapter } from "@/lib/types";

export interface ChapterListProps {
  chapters: ProjectChapter[];
  /** 1-based timeline position of a segment id (0 when unknown). */
  positionOf: (segmentId: string) => number;
  /** Scroll to the chapter's first segment. */
  onJump: (segmentId: string) => void;
  /** Play all from the chapter's first segment; no button when absent. */
  onPlayFrom?: (segmentId: string) => void;
}

/** The chapter list panel. */
export function ChapterList({ chapters, positionOf, onJump, onPlayFrom }: ChapterListProps) {
  return (
    <section className="panel chapters-panel" aria-labelledby="chapters-heading">
      <h2 id="chapters-heading">Chapters</h2>
      {chapters.length ? (
        <ol className="chapter-list" data-testid="chapter-list">
          {chapters.map((chapter, index) => (
            <li key={chapter.segment_id}>
              <span className="chapter-number">{index + 1}.</span>
              <button
                type="button"
                className="chapter-jump"
                onClick={() => onJump(chapter.segment_id)}
                title={`Go to segment ${positionOf(chapter.segment_id)}`}
              >
                {chapter.title}
              </button>
              {onPlayFrom ? (
                <button
                  type="button"
                  className="button small quiet"
                  onClick={() => onPlayFrom(chapter.segment_id)}
                  aria-label={`Play from ${chapter.title}`}
                  title="Play all from here"
                >
                  ▶
                </button>
              ) : null}
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted small">No chapters yet. Use “Start chapter” on a segment to begin one there.</p>
      )}
    </section>
  );
}
