"use client";
/**
 * The header a chapter-start segment shows above its text: "Chapter n" and
 * the chapter's title, with Rename and Remove. The same header, in edit mode,
 * marks a segment as a new chapter start.
 */
import { useEffect, useState } from "react";

import { errorMessage } from "@/lib/format";

/** Longest chapter title the backend stores. */
export const MAX_CHAPTER_TITLE_LENGTH = 255;

/**
 * A title for a new chapter starting at a segment: the segment's text when it
 * reads like a heading (one line of at most 80 characters, `#` marks dropped),
 * else "Chapter n".
 */
export function suggestChapterTitle(text: string, number: number): string {
  const trimmed = text.trim().replace(/^#{1,6}\s+/, "");
  if (trimmed && !trimmed.includes("\n") && trimmed.length <= 80) return trimmed;
  return `Chapter ${number}`;
}

export interface ChapterHeaderProps {
  /** The chapter's title, or null while a new chapter start is being marked. */
  title: string | null;
  /** 1-based chapter number. */
  number: number;
  /** 1-based position of the segment on the timeline (for labels). */
  position: number;
  /** Open in edit mode (marking a new chapter start). */
  editing?: boolean;
  /** Title proposed when marking a new chapter start. */
  suggestion: string;
  /** Save a title, or null to remove the chapter start. Rejects with the API error. */
  onSave: (title: string | null) => Promise<unknown>;
  /** Leaves edit mode without saving (for a new chapter start: drops the header). */
  onCancelEdit?: () => void;
}

/** A chapter header, with inline rename and remove. */
export function ChapterHeader({ title, number, position, editing = false, suggestion, onSave, onCancelEdit }: ChapterHeaderProps) {
  const [renaming, setRenaming] = useState(editing);
  const [draft, setDraft] = useState(title ?? suggestion);
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    if (!renaming) setDraft(title ?? suggestion);
  }, [title, suggestion, renaming]);

  const save = async (value: string | null) => {
    setSaving(true);
    setProblem(null);
    try {
      await onSave(value);
      setRenaming(false);
    } catch (error) {
      setProblem(errorMessage(error));
    } finally {
      setSaving(false);
    }
  };

  const cancel = () => {
    setRenaming(false);
    setProblem(null);
    setDraft(title ?? suggestion);
    onCancelEdit?.();
  };

  return (
    <div className="chapter-header" data-testid="chapter-header">
      <span className="chapter-kicker">Chapter {number}</span>
      {renaming ? (
        <form
          className="chapter-form"
          onSubmit={(event) => {
            event.preventDefault();
            if (draft.trim()) save(draft.trim());
          }}
        >
          <input
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            maxLength={MAX_CHAPTER_TITLE_LENGTH}
            aria-label={`Chapter title of segment ${position}`}
            autoFocus
            required
          />
          <button type="submit" className="button small primary" disabled={saving || !draft.trim()}>
            {saving ? "Saving…" : title ? "Rename" : "Start chapter"}
          </button>
          <button type="button" className="button small quiet" onClick={cancel} disabled={saving}>
            Cancel
          </button>
        </form>
      ) : (
        <div className="chapter-line">
          <h2 className="chapter-title" data-testid="chapter-title">
            {title}
          </h2>
          <span className="spacer" />
          <button type="button" className="button small quiet" onClick={() => setRenaming(true)}>
            Rename
          </button>
          <button
            type="button"
            className="button small quiet"
            onClick={() => save(null)}
            disabled={saving}
            title="This segment no longer starts a chapter (its text is kept)"
          >
            Remove chapter
          </button>
        </div>
      )}
      {problem ? (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      ) : null}
    </div>
  );
}
