"use client";
/**
 * The voice picker (issue 9), at project level and per segment: a voice
 * (or "Default (inherit: …)", which saves null), or a blend of up to
 * `max_blend_voices` voices with weights, shown as the canonical string the
 * backend stores ("a:0.6+b:0.4", see `lib/voices.ts`); a speed (blank =
 * inherit); "Play sample" for the voice and speed chosen now (saved or not,
 * `POST /api/voices/preview/`); Save.
 *
 * Save calls `onSave` with `{voice, speed}` (null = inherit); the caller
 * PATCHes the project or segment. A 400 answer's field errors are shown next
 * to the field they name (`{"voice": ["..."]}` under the voice), anything
 * else below the buttons.
 */
import { useEffect, useId, useState } from "react";

import { useVoices } from "@/hooks/useApi";
import { useSamplePlayer } from "@/hooks/useSamplePlayer";
import { fieldErrors } from "@/lib/api";
import { errorMessage } from "@/lib/format";
import { DEFAULT_MAX_BLEND_VOICES, MAX_TTS_SPEED, MIN_TTS_SPEED } from "@/lib/types";
import {
  blendFromRows,
  describeVoice,
  formatSpeed,
  isBlend,
  isValidVoice,
  parseVoice,
  rowsFromVoice,
  type BlendRow,
} from "@/lib/voices";

/** A voice and a speed as the API stores them on a project or segment; null = inherit. */
export interface VoiceChoice {
  voice: string | null;
  speed: number | null;
}

/** What null stands for: the voice and speed in force above (project, or the global settings). */
export interface InheritedVoice {
  voice: string;
  speed: number;
  /** Where they come from, for the tooltip: "the project", "Settings". */
  from: string;
}

/** The picker's form state: how the voice is chosen, and the speed as typed ("" = inherit). */
export interface VoiceDraft {
  mode: "inherit" | "single" | "blend";
  single: string;
  rows: BlendRow[];
  speed: string;
}

/** The `<select>` value that opens the blend editor. */
export const BLEND_OPTION = "__blend__";

/** The form state for a saved choice. */
export function draftOf(value: VoiceChoice): VoiceDraft {
  const speed = value.speed == null ? "" : String(value.speed);
  if (!value.voice) return { mode: "inherit", single: "", rows: [], speed };
  if (isBlend(value.voice)) {
    const rows = rowsFromVoice(value.voice);
    if (rows.length) return { mode: "blend", single: "", rows, speed };
  }
  return { mode: "single", single: value.voice, rows: [], speed };
}

/** A problem with the form, and the field it belongs to. */
export interface DraftProblem {
  field: "voice" | "speed";
  message: string;
}

/**
 * The choice a form state stands for, or the first problem: a blend that does
 * not parse (see `blendFromRows`), a speed that is not a number from 0.5 to 2.0.
 */
export function choiceOf(
  draft: VoiceDraft,
  options: { available?: readonly string[]; maxVoices?: number } = {},
): { choice: VoiceChoice } | { problem: DraftProblem } {
  let voice: string | null = null;
  if (draft.mode === "single") {
    if (!draft.single) return { problem: { field: "voice", message: "Choose a voice." } };
    voice = draft.single;
  } else if (draft.mode === "blend") {
    const check = blendFromRows(draft.rows, options);
    if (!isValidVoice(check)) return { problem: { field: "voice", message: check.problem } };
    voice = check.spec;
  }
  let speed: number | null = null;
  const speedText = draft.speed.trim();
  if (speedText) {
    speed = Number(speedText);
    if (!Number.isFinite(speed) || speed < MIN_TTS_SPEED || speed > MAX_TTS_SPEED) {
      return { problem: { field: "speed", message: `Speed must be a number from ${MIN_TTS_SPEED} to ${MAX_TTS_SPEED}.` } };
    }
  }
  return { choice: { voice, speed } };
}

/** A voice string in its canonical form when it parses, else as it is (to compare a saved voice with the form). */
function canonicalOrRaw(voice: string | null): string | null {
  if (!voice) return null;
  const check = parseVoice(voice, { maxVoices: Number.POSITIVE_INFINITY });
  return isValidVoice(check) ? check.spec : voice;
}

export interface VoicePickerProps {
  /** The saved choice. */
  value: VoiceChoice;
  /** What null inherits. */
  inherited: InheritedVoice;
  /** PATCH the choice; rejects with the API error (a 400's field errors are shown by their fields). */
  onSave: (choice: VoiceChoice) => Promise<unknown>;
  /** Accessible name of the picker, e.g. "Project voice" or "Voice of segment 2". */
  label: string;
  /** Smaller layout, for segment cards. */
  compact?: boolean;
  /** Disables changing (Play sample stays); `reason` becomes the tooltip. */
  disabled?: boolean;
  reason?: string;
}

export function VoicePicker({ value, inherited, onSave, label, compact = false, disabled = false, reason }: VoicePickerProps) {
  const voices = useVoices();
  const available = voices.data?.voices;
  const maxVoices = voices.data?.max_blend_voices ?? DEFAULT_MAX_BLEND_VOICES;
  const modelMissing = voices.data ? !voices.data.model_available : false;
  const sample = useSamplePlayer();
  const id = useId();

  const [draft, setDraft] = useState<VoiceDraft>(() => draftOf(value));
  const [saving, setSaving] = useState(false);
  const [errors, setErrors] = useState<Record<string, string> | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [sampleError, setSampleError] = useState<string | null>(null);

  const result = choiceOf(draft, { available, maxVoices });
  const problem = "problem" in result ? result.problem : null;
  const choice = "choice" in result ? result.choice : null;
  const dirty = !choice || canonicalOrRaw(choice.voice) !== canonicalOrRaw(value.voice) || choice.speed !== value.speed;

  // Follow the server while there are no local edits.
  const serverKey = `${value.voice}|${value.speed}`;
  useEffect(() => {
    if (!dirty) setDraft(draftOf(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [serverKey]);

  const change = (next: Partial<VoiceDraft>) => {
    setMessage(null);
    setErrors(null);
    setDraft((current) => ({ ...current, ...next }));
  };

  const selectVoice = (selected: string) => {
    if (selected === "") return change({ mode: "inherit" });
    if (selected !== BLEND_OPTION) return change({ mode: "single", single: selected });
    if (draft.rows.length) return change({ mode: "blend" });
    // Start the blend from the voice chosen now (or inherited), plus an empty row to fill in.
    const start = draft.mode === "single" && draft.single ? draft.single : inherited.voice;
    const seeded = isBlend(start) ? rowsFromVoice(start) : start ? [{ voice: start, weight: "0.5" }] : [];
    const rows = seeded.length >= 2 ? seeded : [...seeded, { voice: "", weight: "0.5" }];
    change({ mode: "blend", rows });
  };

  const setRow = (index: number, row: Partial<BlendRow>) =>
    change({ rows: draft.rows.map((current, at) => (at === index ? { ...current, ...row } : current)) });

  const save = async () => {
    if (!choice) return;
    setSaving(true);
    setErrors(null);
    setMessage(null);
    try {
      await onSave(choice);
      setMessage({ text: "Saved.", error: false });
    } catch (error) {
      const fields = fieldErrors(error);
      const known = fields ? Object.fromEntries(Object.entries(fields).filter(([field]) => field === "voice" || field === "speed")) : {};
      setErrors(Object.keys(known).length ? known : null);
      const rest = fields ? Object.entries(fields).filter(([field]) => !(field in known)) : [];
      if (!fields) setMessage({ text: `Could not save: ${errorMessage(error)}`, error: true });
      else if (rest.length) setMessage({ text: `Could not save: ${rest.map(([, text]) => text).join(" ")}`, error: true });
    } finally {
      setSaving(false);
    }
  };

  const playSample = async () => {
    setSampleError(null);
    if (sample.playing) return sample.stop();
    const voice = choice ? (choice.voice ?? inherited.voice) : null;
    if (!voice) return;
    try {
      await sample.play({ voice, speed: choice?.speed ?? inherited.speed });
    } catch (error) {
      const fields = fieldErrors(error);
      setSampleError(fields ? Object.values(fields).join(" ") : errorMessage(error));
    }
  };

  const selectValue = draft.mode === "inherit" ? "" : draft.mode === "blend" ? BLEND_OPTION : draft.single;
  const options = [...(available ?? [])];
  if (draft.mode === "single" && draft.single && !options.includes(draft.single)) options.push(draft.single);
  const blendSpec = draft.mode === "blend" && choice?.voice ? choice.voice : null;
  const voiceError = errors?.voice ?? (problem?.field === "voice" ? problem.message : null);
  const speedError = errors?.speed ?? (problem?.field === "speed" ? problem.message : null);

  return (
    <form
      className={`voice-picker${compact ? " compact" : ""}`}
      role="group"
      aria-label={label}
      data-testid="voice-picker"
      title={disabled ? reason : undefined}
      onSubmit={(event) => {
        event.preventDefault();
        if (!disabled && dirty && choice) save();
      }}
    >
      <div className="voice-row">
        <label className="field voice-field">
          <span>Voice</span>
          <select
            aria-label="Voice"
            value={selectValue}
            disabled={disabled}
            onChange={(event) => selectVoice(event.target.value)}
            aria-describedby={voiceError ? `${id}-voice-error` : undefined}
          >
            <option value="" title={`Inherited from ${inherited.from}`}>
              Default (inherit: {inherited.voice ? describeVoice(inherited.voice) : "…"})
            </option>
            {options.map((voice) => (
              <option key={voice} value={voice}>
                {voice}
              </option>
            ))}
            <option value={BLEND_OPTION}>Blend of voices…</option>
          </select>
        </label>
        <label className="field speed-field">
          <span>Speed</span>
          <span className="with-unit">
            <input
              type="number"
              inputMode="decimal"
              min={MIN_TTS_SPEED}
              max={MAX_TTS_SPEED}
              step={0.05}
              value={draft.speed}
              placeholder={String(inherited.speed)}
              disabled={disabled}
              onChange={(event) => change({ speed: event.target.value })}
              aria-label="Speed"
              aria-describedby={`${id}-speed-help`}
            />
            <span className="unit">×</span>
          </span>
          <span className="small muted" id={`${id}-speed-help`}>
            default: {formatSpeed(inherited.speed)}
            {draft.speed.trim() ? (
              <>
                {" · "}
                <button
                  type="button"
                  className="link-button"
                  onClick={() => change({ speed: "" })}
                  disabled={disabled}
                  aria-label={`Use the default speed (${formatSpeed(inherited.speed)})`}
                >
                  reset
                </button>
              </>
            ) : null}
          </span>
        </label>
      </div>

      {draft.mode === "blend" ? (
        <fieldset className="blend-editor" data-testid="blend-editor" disabled={disabled}>
          <legend>
            Blend (up to {maxVoices} voices; weights are normalized)
          </legend>
          {draft.rows.map((row, index) => (
            <div className="blend-row" key={index} data-testid="blend-row">
              <select
                aria-label={`Blend voice ${index + 1}`}
                value={row.voice}
                onChange={(event) => setRow(index, { voice: event.target.value })}
              >
                <option value="">Choose a voice…</option>
                {(available ?? []).map((voice) => (
                  <option
                    key={voice}
                    value={voice}
                    disabled={voice !== row.voice && draft.rows.some((other) => other.voice === voice)}
                  >
                    {voice}
                  </option>
                ))}
              </select>
              <input
                type="number"
                inputMode="decimal"
                min={0}
                step={0.05}
                value={row.weight}
                onChange={(event) => setRow(index, { weight: event.target.value })}
                aria-label={`Weight of blend voice ${index + 1}`}
              />
              <button
                type="button"
                className="button small quiet"
                onClick={() => change({ rows: draft.rows.filter((_, at) => at !== index) })}
                disabled={draft.rows.length <= 1}
                aria-label={`Remove blend voice ${index + 1}`}
              >
                ×
              </button>
            </div>
          ))}
          <div className="form-row">
            <button
              type="button"
              className="button small"
              onClick={() => change({ rows: [...draft.rows, { voice: "", weight: "0.5" }] })}
              disabled={draft.rows.length >= maxVoices}
              title={draft.rows.length >= maxVoices ? `A blend mixes at most ${maxVoices} voices` : undefined}
            >
              Add voice
            </button>
            {blendSpec ? (
              <span className="small">
                Saved as <code data-testid="blend-string">{blendSpec}</code>
              </span>
            ) : null}
          </div>
        </fieldset>
      ) : null}
      {voiceError ? (
        <p className="inline-error" role="alert" id={`${id}-voice-error`} data-testid="voice-error">
          {voiceError}
        </p>
      ) : null}
      {speedError ? (
        <p className="inline-error" role="alert" data-testid="speed-error">
          {speedError}
        </p>
      ) : null}

      <div className="form-row">
        <button type="submit" className="button small primary" disabled={disabled || !dirty || !choice || saving}>
          {saving ? "Saving…" : "Save voice"}
        </button>
        <button
          type="button"
          className="button small"
          onClick={playSample}
          disabled={(!sample.playing && (!choice || sample.loading)) || modelMissing}
          title={modelMissing ? "No TTS model is installed" : "Hear a short sample of this voice and speed"}
        >
          {sample.loading ? "Making sample…" : sample.playing ? "Stop sample" : "Play sample"}
        </button>
        {dirty && choice && !saving ? <span className="unsaved">Unsaved</span> : null}
        {message ? (
          <span className={message.error ? "inline-error" : "muted"} role={message.error ? "alert" : "status"}>
            {message.text}
          </span>
        ) : null}
      </div>
      {sampleError ? (
        <p className="inline-error" role="alert" data-testid="sample-error">
          {sampleError}
        </p>
      ) : null}
    </form>
  );
}
