"use client";
/**
 * The book's details and pacing: author, and the silences between segments
 * (paragraph pause, chapter pause, lead-in, tail, 0–10 s each) that export
 * and Play all use. Each pause shows its default; Save sends only the
 * changed fields (`PATCH /api/projects/{id}/`).
 */
import { useEffect, useState } from "react";

import { useUpdateProject } from "@/hooks/useApi";
import { DEFAULT_PACING, MAX_PAUSE_SECONDS, MIN_PAUSE_SECONDS, type Pacing, type Project, type ProjectUpdate } from "@/lib/types";

/** The pauses in the order shown, with their labels and what they are for. */
export const PAUSE_FIELDS: { key: keyof Pacing; label: string; help: string }[] = [
  { key: "paragraph_pause", label: "Paragraph pause", help: "between two segments" },
  { key: "chapter_pause", label: "Chapter pause", help: "before a new chapter" },
  { key: "lead_in", label: "Lead-in", help: "before the first segment" },
  { key: "tail", label: "Tail", help: "after the last segment" },
];

type Draft = { author: string } & Record<keyof Pacing, string>;

function draftOf(project: Project): Draft {
  return {
    author: project.author ?? "",
    paragraph_pause: String(project.paragraph_pause),
    chapter_pause: String(project.chapter_pause),
    lead_in: String(project.lead_in),
    tail: String(project.tail),
  };
}

/**
 * The PATCH body for a draft: only the fields that differ from `project`, or
 * a message naming the first pause that is not a number from 0 to 10.
 */
export function pacingChanges(project: Project, draft: Draft): { changes: ProjectUpdate } | { problem: string } {
  const changes: ProjectUpdate = {};
  if (draft.author.trim() !== (project.author ?? "")) changes.author = draft.author.trim();
  for (const { key, label } of PAUSE_FIELDS) {
    const text = draft[key].trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value) || value < MIN_PAUSE_SECONDS || value > MAX_PAUSE_SECONDS) {
      return { problem: `${label} must be a number of seconds from ${MIN_PAUSE_SECONDS} to ${MAX_PAUSE_SECONDS}.` };
    }
    if (value !== project[key]) changes[key] = value;
  }
  return { changes };
}

/** The "Book & pacing" panel. */
export function PacingForm({ project }: { project: Project }) {
  const update = useUpdateProject(project.id);
  const [draft, setDraft] = useState<Draft>(() => draftOf(project));
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const saved = draftOf(project);
  const dirty = (Object.keys(saved) as (keyof Draft)[]).some((key) => saved[key] !== draft[key]);

  // Follow the server while there are no local edits.
  const serverKey = JSON.stringify(saved);
  useEffect(() => {
    if (!dirty) setDraft(draftOf(project));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [serverKey]);

  const set = (key: keyof Draft, value: string) => {
    setMessage(null);
    setDraft((current) => ({ ...current, [key]: value }));
  };

  const save = () => {
    const result = pacingChanges(project, draft);
    if ("problem" in result) return setMessage({ text: result.problem, error: true });
    if (!Object.keys(result.changes).length) return setMessage({ text: "Nothing changed.", error: false });
    update.mutate(result.changes, {
      onSuccess: (project) => {
        setDraft(draftOf(project));
        setMessage({ text: "Saved.", error: false });
      },
      onError: (error) => setMessage({ text: `Could not save: ${error.message}`, error: true }),
    });
  };

  return (
    <section className="panel pacing-panel" aria-labelledby="pacing-heading">
      <h2 id="pacing-heading">Book &amp; pacing</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save();
        }}
      >
        <label className="field">
          <span>Author</span>
          <input value={draft.author} onChange={(event) => set("author", event.target.value)} maxLength={255} />
        </label>
        <div className="pause-grid">
          {PAUSE_FIELDS.map(({ key, label, help }) => (
            <label className="field" key={key}>
              <span>
                {label} <span className="small">({help})</span>
              </span>
              <span className="with-unit">
                <input
                  type="number"
                  inputMode="decimal"
                  min={MIN_PAUSE_SECONDS}
                  max={MAX_PAUSE_SECONDS}
                  step={0.05}
                  value={draft[key]}
                  onChange={(event) => set(key, event.target.value)}
                  aria-label={`${label} in seconds`}
                  aria-describedby={`default-${key}`}
                />
                <span className="unit">s</span>
              </span>
              <span className="small muted" id={`default-${key}`}>
                default {DEFAULT_PACING[key]} s
              </span>
            </label>
          ))}
        </div>
        <div className="form-row">
          <button type="submit" className="button primary small" disabled={update.isPending || !dirty}>
            {update.isPending ? "Saving…" : "Save"}
          </button>
          <button
            type="button"
            className="button small quiet"
            onClick={() =>
              setDraft((current) => ({
                ...current,
                ...Object.fromEntries(PAUSE_FIELDS.map(({ key }) => [key, String(DEFAULT_PACING[key])])),
              }))
            }
          >
            Use defaults
          </button>
          {message ? (
            <span className={message.error ? "inline-error" : "muted"} role={message.error ? "alert" : "status"}>
              {message.text}
            </span>
          ) : null}
        </div>
      </form>
    </section>
  );
}
