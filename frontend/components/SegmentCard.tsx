"use client";
/**
 * One segment on the timeline: its text (edited inline, saved explicitly),
 * lock, move/add/delete, Generate, the status badge, the audio player, and
 * its chapter header when it starts a chapter (mark, rename, unmark).
 *
 * Issue 9: an "Out of date" badge when the audio no longer matches the
 * segment (`audio_stale`), "How it will be read" (the spoken form of the
 * text being edited, with the project's lexicon), and the segment's own
 * voice and speed (a compact voice picker; default = the project's).
 *
 * While its audio plays, the text is shown read-only with the sentence being
 * spoken highlighted (from the segment's `cues`, see `lib/cues.ts`); pausing
 * brings the editable text back.
 *
 * Issue 11: Save sends the ETag of the version the draft is an edit of
 * ({@link draftBase}) as `If-Match`. When the text was changed elsewhere
 * meanwhile (another tab), the save is refused (412) and the card shows
 * "Changed elsewhere — reload or overwrite" with the other version's text:
 * Reload takes it (dropping the local edit, only when the writer chooses it),
 * Overwrite saves the local text over it. A 412 caused only by other fields
 * (a lock, a move) is retried at once with the new ETag, since the draft is
 * still an edit of the text on the server.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { useDebouncedValue } from "@/hooks/useDebouncedValue";
import { activeCueIndex, locateCues, splitForHighlight } from "@/lib/cues";
import { segmentFromConflict } from "@/lib/api";
import { errorMessage, formatSeconds } from "@/lib/format";
import { startsChapter } from "@/lib/playback";
import type { SegmentState } from "@/lib/segmentState";
import type { Segment } from "@/lib/types";
import { describeVoice, formatSpeed } from "@/lib/voices";
import { ChapterHeader, suggestChapterTitle } from "./ChapterHeader";
import { ConfirmDelete } from "./ConfirmDelete";
import { SpokenText } from "./SpokenText";
import { StatusBadge } from "./StatusBadge";
import { VoicePicker, type InheritedVoice, type VoiceChoice } from "./VoicePicker";

const NO_CUES: Segment["cues"] = [];

/** The "Out of date" badge's explanation (its tooltip). */
export const STALE_EXPLANATION =
  "Out of date: the text, voice, speed, pronunciation rules or model changed since this audio was made. Regenerate to update it.";

/** How long the text must rest before "How it will be read" asks again, in milliseconds. */
export const SPOKEN_PREVIEW_DELAY_MS = 400;

/** How many times a save refused only because fields other than the text changed is re-sent with the new ETag. */
export const MAX_ETAG_REFRESHES = 3;

/** The notice shown when the segment's text was changed elsewhere since the draft was started. */
export const CONFLICT_NOTICE = "Changed elsewhere — reload or overwrite";

/** The server version a draft is an edit of: its text, and its ETag (sent as `If-Match` on save). */
export interface DraftBase {
  text: string;
  etag: string | undefined;
}

/**
 * The base of `draft` once the server's copy of the segment is `server`: the
 * server's version when the draft equals its text (nothing unsaved) or when
 * only other fields changed (same text as the base: a lock, a move, a voice);
 * else the old base, so that saving over text changed elsewhere is refused.
 */
export function draftBase(base: DraftBase, draft: string, server: Pick<Segment, "text_content" | "etag">): DraftBase {
  if (draft === server.text_content || server.text_content === base.text) {
    return { text: server.text_content, etag: server.etag };
  }
  return base;
}

/** The voice button's text: "Voice: default", "Voice: af_bella · 1.10×", "Voice: a 60 % + b 40 %". */
export function voiceSummary(segment: Pick<Segment, "voice" | "speed">): string {
  const parts = [segment.voice ? describeVoice(segment.voice) : "default"];
  if (segment.speed != null) parts.push(formatSpeed(segment.speed));
  return `Voice: ${parts.join(" · ")}`;
}

export interface SegmentCardProps {
  segment: Segment;
  /** 1-based position on the timeline. */
  position: number;
  /** Number of segments on the timeline (to disable Move down on the last one). */
  count: number;
  state: SegmentState;
  /** URL of the segment's audio with a version suffix (so regenerated audio is not served from cache), or null. */
  audioSrc: string | null;
  /** True while this segment is the one Play all is playing. */
  playing: boolean;
  /** 1-based number of the chapter this segment starts (when it has a chapter title), or of the next one to be made. */
  chapterNumber: number;
  /** Mark this segment as a chapter start with `title`, rename it, or unmark it (null). */
  onChapterChange: (title: string | null) => Promise<unknown>;
  /** True while a reorder, add or delete is being saved (the order buttons wait). */
  orderBusy: boolean;
  /** Save the text; `ifMatch` is the ETag the draft is an edit of (rejects with a 412 when it changed elsewhere). */
  onSave: (text: string, ifMatch?: string) => Promise<unknown>;
  onToggleLock: () => void;
  onMove: (step: -1 | 1) => void;
  onAddBelow: () => void;
  onDelete: () => void;
  /** Generate this segment's audio; called after any unsaved text was saved. */
  onGenerate: () => void;
  /** What the segment's voice and speed inherit when null: the project's, or the global settings. */
  inheritedVoice: InheritedVoice;
  /** PATCH the segment's voice and speed (null = inherit); rejects with the API error. */
  onVoiceSave: (choice: VoiceChoice) => Promise<unknown>;
  /** Receives the `<audio>` element (or null) so Play all can drive it. */
  audioRef: (element: HTMLAudioElement | null) => void;
  onAudioEnded: () => void;
}

/** A segment card. Unsaved text is marked and can be saved or reverted; Generate saves it first. */
export function SegmentCard(props: SegmentCardProps) {
  const { segment, position, count, state, audioSrc, playing, orderBusy } = props;
  const [draft, setDraft] = useState(segment.text_content);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  /** The segment as the server had it when a save was refused because its text changed elsewhere. */
  const [conflict, setConflict] = useState<Segment | null>(null);
  const base = useRef<DraftBase>({ text: segment.text_content, etag: segment.etag });
  const [confirmDelete, setConfirmDelete] = useState(false);
  const lastServerText = useRef(segment.text_content);
  const [markingChapter, setMarkingChapter] = useState(false);
  const [showSpoken, setShowSpoken] = useState(false);
  const [showVoice, setShowVoice] = useState(false);
  const spokenDraft = useDebouncedValue(draft, SPOKEN_PREVIEW_DELAY_MS);

  // The audio element, for the sentence highlight (the parent gets it too, for Play all).
  const audioElement = useRef<HTMLAudioElement | null>(null);
  const { audioRef } = props;
  const setAudio = useCallback(
    (element: HTMLAudioElement | null) => {
      audioElement.current = element;
      audioRef(element);
    },
    [audioRef],
  );
  const [audioPlaying, setAudioPlaying] = useState(false);
  const [cueIndex, setCueIndex] = useState(-1);
  const cues = segment.cues ?? NO_CUES;
  useEffect(() => {
    if (!audioPlaying || !cues.length) return;
    let frame = 0;
    const tick = () => {
      const element = audioElement.current;
      if (element) setCueIndex(activeCueIndex(cues, element.currentTime));
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [audioPlaying, cues]);
  const cueRanges = useMemo(() => locateCues(segment.text_content, cues), [segment.text_content, cues]);

  // Follow the server's text while there are no local edits.
  useEffect(() => {
    if (segment.text_content !== lastServerText.current) {
      setDraft((current) => (current === lastServerText.current ? segment.text_content : current));
      lastServerText.current = segment.text_content;
    }
  }, [segment.text_content]);

  // Keep the draft's base on the newest server version it is still an edit of; a draft
  // that equals the server's text again has nothing left to resolve.
  useEffect(() => {
    base.current = draftBase(base.current, draft, segment);
    if (draft === segment.text_content) setConflict(null);
  }, [draft, segment]);

  const dirty = draft !== segment.text_content;
  const busy = state.badge === "queued" || state.badge === "generating";
  const isChapterStart = startsChapter(segment);
  const textRows = Math.min(8, Math.max(2, Math.ceil(draft.length / 80)));
  // Read-along: only while the audio plays, for the saved text it may belong to, when there are cues.
  const reading = audioPlaying && !dirty && cues.length > 0;
  const highlight = reading && cueIndex >= 0 ? splitForHighlight(segment.text_content, cueRanges[cueIndex]) : null;

  /** Save the draft with `If-Match: ifMatch` (default: the draft's base); false when it was not saved. */
  const save = async (ifMatch: string | undefined = base.current.etag): Promise<boolean> => {
    setSaving(true);
    setSaveError(null);
    try {
      for (let refreshes = 0; ; refreshes += 1) {
        try {
          await props.onSave(draft, ifMatch);
          setConflict(null);
          return true;
        } catch (error) {
          const current = segmentFromConflict(error);
          if (!current) throw error;
          if (current.text_content === base.current.text && refreshes < MAX_ETAG_REFRESHES) {
            // Only other fields changed: the draft is still an edit of the server's text.
            base.current = { text: current.text_content, etag: current.etag };
            ifMatch = current.etag;
            continue;
          }
          setConflict(current);
          return false;
        }
      }
    } catch (error) {
      setSaveError(errorMessage(error));
      return false;
    } finally {
      setSaving(false);
    }
  };

  /** Take the other version's text, dropping the local edit (the writer chose Reload). */
  const reload = () => {
    if (!conflict) return;
    base.current = { text: conflict.text_content, etag: conflict.etag };
    setDraft(conflict.text_content);
    setConflict(null);
  };

  /** Save the local text over the other version (with its ETag: a newer change is refused again). */
  const overwrite = () => {
    if (conflict) void save(conflict.etag);
  };

  const generate = async () => {
    if (dirty && !(await save())) return;
    props.onGenerate();
  };

  return (
    <li
      className={`segment${segment.is_locked ? " segment-locked" : ""}${playing ? " segment-playing" : ""}${dirty ? " segment-dirty" : ""}`}
      data-testid="segment"
      data-segment-id={segment.id}
      data-chapter-start={isChapterStart ? "true" : undefined}
      aria-label={`Segment ${position}`}
      id={`segment-${segment.id}`}
      tabIndex={-1}
    >
      {isChapterStart || markingChapter ? (
        <ChapterHeader
          title={segment.chapter_title}
          number={props.chapterNumber}
          position={position}
          editing={markingChapter}
          suggestion={suggestChapterTitle(segment.text_content, props.chapterNumber)}
          onSave={async (title) => {
            await props.onChapterChange(title);
            setMarkingChapter(false);
          }}
          onCancelEdit={() => setMarkingChapter(false)}
        />
      ) : null}
      <div className="segment-head">
        <span className="segment-number">{position}</span>
        <StatusBadge state={state} />
        {segment.audio_stale ? (
          <span className="badge badge-stale" data-testid="stale-badge" title={STALE_EXPLANATION} aria-label={STALE_EXPLANATION}>
            Out of date
          </span>
        ) : null}
        {dirty ? (
          <span className="unsaved" data-testid="unsaved">
            Unsaved changes
          </span>
        ) : null}
        <span className="spacer" />
        <button
          type="button"
          className={`button small quiet voice-toggle${segment.voice || segment.speed != null ? " custom" : ""}`}
          aria-expanded={showVoice}
          aria-label={`${voiceSummary(segment)} (segment ${position})`}
          title={`${voiceSummary(segment)}. Change this segment's voice and speed`}
          onClick={() => setShowVoice((open) => !open)}
          data-testid="voice-toggle"
        >
          {voiceSummary(segment)}
        </button>
        <button
          type="button"
          className={`button small toggle${segment.is_locked ? " on" : ""}`}
          aria-pressed={segment.is_locked}
          onClick={props.onToggleLock}
          title={segment.is_locked ? "Unlock: allow editing and regenerating" : "Lock: keep this text and audio as they are"}
        >
          {segment.is_locked ? "Locked" : "Lock"}
        </button>
      </div>

      {reading ? (
        <div
          className="segment-text segment-reading"
          data-testid="segment-reading"
          data-cue-index={cueIndex}
          aria-label={`Text of segment ${position}, sentence being spoken highlighted`}
          // As tall as the textarea it replaces, so the page does not jump.
          style={{ minHeight: `calc(${textRows * 1.55}em + 1rem + 2px)` }}
        >
          {highlight ? (
            <>
              {highlight[0]}
              <mark className="cue-highlight" data-testid="cue-highlight">
                {highlight[1]}
              </mark>
              {highlight[2]}
            </>
          ) : (
            segment.text_content
          )}
        </div>
      ) : (
        <textarea
          className="segment-text"
          aria-label={`Text of segment ${position}`}
          value={draft}
          readOnly={segment.is_locked}
          onChange={(event) => setDraft(event.target.value)}
          rows={textRows}
        />
      )}
      {conflict && dirty ? (
        <div className="notice segment-conflict" role="alert" data-testid="segment-conflict">
          <p>
            <strong>{CONFLICT_NOTICE}</strong>: this segment was saved somewhere else (another tab or window) after you
            started editing. Reload takes that version and discards your edit; Overwrite saves your text over it.
          </p>
          <p className="muted" data-testid="segment-conflict-text">
            Saved elsewhere: {conflict.text_content ? `\u201c${conflict.text_content}\u201d` : "(no text)"}
          </p>
          <div className="confirm">
            <button type="button" className="button small" onClick={reload} disabled={saving}>
              Reload
            </button>
            <button type="button" className="button small primary" onClick={overwrite} disabled={saving}>
              {saving ? "Saving…" : "Overwrite"}
            </button>
          </div>
        </div>
      ) : null}
      {saveError ? (
        <p className="inline-error" role="alert">
          {saveError}
        </p>
      ) : null}
      {showSpoken ? (
        <SpokenText text={spokenDraft} projectId={segment.project} voice={(segment.voice ?? props.inheritedVoice.voice) || undefined} />
      ) : null}
      {showVoice ? (
        <VoicePicker
          compact
          label={`Voice of segment ${position}`}
          value={{ voice: segment.voice, speed: segment.speed }}
          inherited={props.inheritedVoice}
          onSave={props.onVoiceSave}
          disabled={segment.is_locked}
          reason={segment.is_locked ? "Unlock the segment to change its voice" : undefined}
        />
      ) : null}

      <div className="segment-audio">
        {audioSrc ? (
          <>
            <audio
              controls
              preload="metadata"
              src={audioSrc}
              ref={setAudio}
              onPlay={() => setAudioPlaying(true)}
              onPause={() => setAudioPlaying(false)}
              onEnded={() => {
                setAudioPlaying(false);
                setCueIndex(-1);
                props.onAudioEnded();
              }}
              onSeeked={(event) => setCueIndex(activeCueIndex(cues, event.currentTarget.currentTime))}
              data-testid="segment-audio"
            />
            <span className="duration" data-testid="segment-duration">
              {formatSeconds(segment.audio_duration)}
            </span>
          </>
        ) : (
          <span className="muted">No audio yet</span>
        )}
      </div>

      <div className="segment-actions">
        {dirty ? (
          <>
            <button type="button" className="button small primary" onClick={() => void save()} disabled={saving}>
              {saving ? "Saving…" : "Save"}
            </button>
            <button type="button" className="button small quiet" onClick={() => setDraft(segment.text_content)} disabled={saving}>
              Revert
            </button>
          </>
        ) : null}
        <button
          type="button"
          className="button small"
          onClick={generate}
          disabled={segment.is_locked || busy || saving || !draft.trim()}
          title={segment.is_locked ? "Unlock the segment to regenerate it" : undefined}
        >
          {dirty ? "Save & generate" : segment.audio_file ? "Regenerate" : "Generate"}
        </button>
        <button
          type="button"
          className={`button small quiet toggle${showSpoken ? " on" : ""}`}
          aria-pressed={showSpoken}
          onClick={() => setShowSpoken((shown) => !shown)}
          title="Show the text as the narrator will read it: numbers, dates and abbreviations in words, with the project's pronunciation rules"
        >
          How it will be read
        </button>
        {!isChapterStart && !markingChapter ? (
          <button
            type="button"
            className="button small quiet"
            onClick={() => setMarkingChapter(true)}
            title="Start a new chapter at this segment"
          >
            Start chapter
          </button>
        ) : null}
        <span className="spacer" />
        <button type="button" className="button small quiet" onClick={() => props.onMove(-1)} disabled={orderBusy || position === 1} aria-label={`Move segment ${position} up`}>
          ↑
        </button>
        <button type="button" className="button small quiet" onClick={() => props.onMove(1)} disabled={orderBusy || position === count} aria-label={`Move segment ${position} down`}>
          ↓
        </button>
        <button type="button" className="button small quiet" onClick={props.onAddBelow} disabled={orderBusy}>
          Add below
        </button>
        <ConfirmDelete
          confirming={confirmDelete}
          onAsk={() => setConfirmDelete(true)}
          onKeep={() => setConfirmDelete(false)}
          onConfirm={() => {
            setConfirmDelete(false);
            props.onDelete();
          }}
          disabled={segment.is_locked || busy || orderBusy}
          reason={segment.is_locked ? "Unlock the segment to delete it" : undefined}
        />
      </div>
    </li>
  );
}
