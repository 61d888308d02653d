"use client";
/**
 * The whole-book player: one export's audio with its chapter list. Clicking
 * a chapter seeks to its start (the `/media` route answers Range requests,
 * so the browser can seek without loading the whole file) and plays; the
 * chapter being heard is marked.
 */
import { useRef, useState } from "react";

import { countOf, formatDuration } from "@/lib/format";
import type { AudiobookExport, ExportChapter } from "@/lib/types";

/** Index of the chapter playing at `time` seconds: the last one starting at or before it (0 before the first). */
export function chapterAt(chapters: readonly Pick<ExportChapter, "start">[], time: number): number {
  let current = 0;
  chapters.forEach((chapter, index) => {
    if (chapter.start <= time + 1e-3) current = index;
  });
  return current;
}

export interface BookPlayerProps {
  book: AudiobookExport;
  /** The book's title, for labels. */
  title: string;
}

/** `<audio>` on the export's URL plus its chapter list. */
export function BookPlayer({ book, title }: BookPlayerProps) {
  const audio = useRef<HTMLAudioElement>(null);
  const [time, setTime] = useState(0);
  const current = chapterAt(book.chapters, time);

  const seek = (chapter: ExportChapter) => {
    const element = audio.current;
    if (!element) return;
    element.currentTime = chapter.start;
    setTime(chapter.start);
    if (element.paused) element.play().catch(() => undefined);
  };

  return (
    <section className="panel book-player" aria-label="Audiobook player" data-testid="book-player" data-export-id={book.id}>
      <h2>Listen to the book</h2>
      <p className="muted small">
        {book.format.toUpperCase()} · {formatDuration(book.duration)} · {countOf(book.chapters.length, "chapter")}
      </p>
      <audio
        ref={audio}
        controls
        preload="metadata"
        src={book.url}
        data-testid="book-audio"
        aria-label={`${title}, whole book`}
        onTimeUpdate={(event) => setTime(event.currentTarget.currentTime)}
        onSeeked={(event) => setTime(event.currentTarget.currentTime)}
      />
      <ol className="book-chapters" data-testid="book-chapters" aria-label="Chapters of the book">
        {book.chapters.map((chapter, index) => (
          <li key={`${index}-${chapter.start}`} aria-current={index === current ? "true" : undefined}>
            <button type="button" className="chapter-seek" onClick={() => seek(chapter)} data-testid="book-chapter">
              <span className="chapter-seek-title">{chapter.title}</span>
              <span className="chapter-seek-time">{formatDuration(chapter.start)}</span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
