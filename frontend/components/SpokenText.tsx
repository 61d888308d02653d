"use client";
/**
 * "How it will be read" (issue 9): the spoken form of a text from
 * `POST /api/speech/preview/`, i.e. the text after normalization ("1815" →
 * "eighteen fifteen") and the project's pronunciation lexicon (phoneme rules
 * show as `/…/`), with its token count, the number of rules that matched, and
 * the phonemes on request. It follows the text and refreshes when a rule of
 * the project changes.
 */
import { useSpeechPreview } from "@/hooks/useApi";
import { countOf } from "@/lib/format";

export interface SpokenTextProps {
  text: string;
  /** The project whose lexicon applies, or null for none. */
  projectId: string | null;
  /** The voice the text will be read with (it picks the accent), or undefined for the default. */
  voice?: string;
  /** Heading shown above the spoken text. */
  title?: string;
}

export function SpokenText({ text, projectId, voice, title = "How it will be read" }: SpokenTextProps) {
  const preview = useSpeechPreview({ text, project: projectId, voice });
  const data = preview.data;
  return (
    <div className="spoken-preview" data-testid="spoken-preview" aria-live="polite" aria-busy={preview.isFetching}>
      <span className="spoken-label">{title}</span>
      {!text.trim() ? (
        <p className="muted small">Nothing to read.</p>
      ) : preview.isError ? (
        <p className="inline-error" role="alert" data-testid="spoken-error">
          Could not preview: {preview.error.message}
        </p>
      ) : !data ? (
        <p className="muted small">Reading…</p>
      ) : (
        <>
          <p className={`spoken-text${preview.isPlaceholderData ? " updating" : ""}`} data-testid="spoken-text">
            {data.spoken_text}
          </p>
          <p className="small muted" data-testid="spoken-meta">
            {countOf(data.token_count, "token")}
            {" · "}
            {data.rules_applied.length ? `${countOf(data.rules_applied.length, "lexicon rule")} applied` : "no lexicon rule applied"}
          </p>
          <details className="phonemes">
            <summary className="small">Phonemes</summary>
            <code data-testid="spoken-phonemes">{data.phonemes}</code>
          </details>
        </>
      )}
    </div>
  );
}
