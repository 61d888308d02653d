/**
 * Voices and voice blends as the API writes them (issue 9): a voice id
 * (`"jf_alpha"`) or a blend `"jf_alpha:0.6+jm_kumo:0.4"` of at most
 * `max_blend_voices` voices whose style vectors the backend mixes by weight.
 *
 * These functions mirror `parse_voice` and `VoiceBlend.canonical` in
 * `backend/core_engine/voices.py`, so the editor shows the string the backend
 * will store and catches the same mistakes before a request is sent:
 *   - a weight may be omitted (`"a+b"` mixes equally); weights are positive
 *     finite numbers and are normalized to sum to 1;
 *   - the canonical form lists the voices sorted by id with weights rounded to
 *     4 decimals (round half to even, as Python's `f"{w:.4f}"`) without
 *     trailing zeros; a single voice is just its id.
 * The backend stays the judge: its 400 is shown when it disagrees.
 *
 * Pure functions, no React.
 */

/** One voice of a blend and its weight (normalized: the weights of a parsed voice sum to 1). */
export interface VoiceComponent {
  voice: string;
  weight: number;
}

/** A row of the blend editor as typed: a voice id and its weight as text. */
export interface BlendRow {
  voice: string;
  weight: string;
}

/** A checked voice: its canonical string and components, or the problem in words. */
export type VoiceCheck = { spec: string; components: VoiceComponent[] } | { problem: string };

/** What {@link parseVoice} checks against: the installed voices (unchecked when omitted) and the blend limit. */
export interface VoiceCheckOptions {
  available?: readonly string[];
  maxVoices?: number;
}

/** Longest voice string the backend accepts, in characters (`MAX_VOICE_SPEC_LENGTH`). */
export const MAX_VOICE_SPEC_LENGTH = 200;
/** Decimals of a weight in the canonical form (`WEIGHT_DECIMALS`). */
export const WEIGHT_DECIMALS = 4;
/** Blend limit used when none is given (the backend's `MAX_BLEND_VOICES`). */
export const MAX_BLEND_VOICES = 5;

const VOICE_ID = /^[A-Za-z0-9_-]{1,60}$/;
/** A number as Python's `float()` reads one (digit groups may have single `_` between digits, PEP 515). */
const DIGITS = String.raw`\d(?:_?\d)*`;
const NUMBER = new RegExp(String.raw`^[+-]?(?:${DIGITS}\.?(?:${DIGITS})?|\.${DIGITS})(?:e[+-]?${DIGITS})?$`, "i");

/** True when `check` is a valid voice (has a `spec`). */
export function isValidVoice(check: VoiceCheck): check is { spec: string; components: VoiceComponent[] } {
  return "spec" in check;
}

/**
 * A weight with {@link WEIGHT_DECIMALS} decimals and no trailing zeros, rounded
 * like Python's `f"{weight:.4f}"` (exact value, ties to even): `0.6` → `"0.6"`,
 * `1/3` → `"0.3333"`, `0.03125` → `"0.0312"`, `1` → `"1"`.
 */
export function formatWeight(weight: number): string {
  if (!Number.isFinite(weight) || weight < 0) return String(weight);
  // toFixed(30) is the exact decimal expansion of the double up to 30 places,
  // enough to tell an exact tie (…5000…) from a value just above or below it.
  const [whole, fraction] = weight.toFixed(30).split(".");
  let units = Number(whole) * 10 ** WEIGHT_DECIMALS + Number(fraction.slice(0, WEIGHT_DECIMALS));
  const rest = fraction.slice(WEIGHT_DECIMALS);
  const first = rest[0];
  if (first > "5" || (first === "5" && (/[1-9]/.test(rest.slice(1)) || units % 2 === 1))) units += 1;
  const text = (units / 10 ** WEIGHT_DECIMALS).toFixed(WEIGHT_DECIMALS).replace(/0+$/, "").replace(/\.$/, "");
  return text || "0";
}

/** The canonical string of normalized components: `"a"` for one voice, else `"a:0.6+b:0.4"` sorted by id. */
export function canonicalVoice(components: readonly VoiceComponent[]): string {
  const sorted = [...components].sort((a, b) => (a.voice < b.voice ? -1 : a.voice > b.voice ? 1 : 0));
  if (sorted.length === 1) return sorted[0].voice;
  return sorted.map(({ voice, weight }) => `${voice}:${formatWeight(weight)}`).join("+");
}

/**
 * Parse a voice id or a blend `"id:weight+id:weight"` the way the backend
 * does: the canonical string and the normalized components (sorted by id), or
 * the problem (empty, too long, too many voices, an empty or malformed part, a
 * voice that is not installed, a voice named twice, a weight that is not a
 * positive number).
 */
export function parseVoice(text: string, options: VoiceCheckOptions = {}): VoiceCheck {
  const maxVoices = options.maxVoices ?? MAX_BLEND_VOICES;
  const trimmed = text.trim();
  if (!trimmed) return { problem: "The voice is empty." };
  if (trimmed.length > MAX_VOICE_SPEC_LENGTH) {
    return { problem: `The voice is longer than ${MAX_VOICE_SPEC_LENGTH} characters.` };
  }
  const parts = trimmed.split("+").map((part) => part.trim());
  if (parts.length > maxVoices) {
    return { problem: `A blend mixes at most ${maxVoices} voices; this one has ${parts.length}.` };
  }
  const known = options.available ? new Set(options.available) : null;
  const weights = new Map<string, number>();
  for (const part of parts) {
    if (!part) return { problem: `Empty part in the blend "${trimmed}": write it as "voice:weight+voice:weight".` };
    const colon = part.indexOf(":");
    const voice = (colon < 0 ? part : part.slice(0, colon)).trim();
    if (!VOICE_ID.test(voice)) return { problem: `"${voice}" is not a voice id (letters, digits, '_' or '-').` };
    if (known && !known.has(voice)) {
      const where = parts.length > 1 ? " in the blend" : "";
      return { problem: `Unknown voice "${voice}"${where}.` };
    }
    if (weights.has(voice)) return { problem: `The voice "${voice}" appears twice in the blend.` };
    let weight = 1;
    if (colon >= 0) {
      const raw = part.slice(colon + 1).trim();
      weight = NUMBER.test(raw) ? Number(raw.replace(/_/g, "")) : Number.NaN;
      if (!Number.isFinite(weight) || weight <= 0) {
        return { problem: `The weight of "${voice}" must be a positive number, got "${raw}".` };
      }
    }
    weights.set(voice, weight);
  }
  let total = 0;
  for (const weight of weights.values()) total += weight;
  const components = [...weights].map(([voice, weight]) => ({ voice, weight: weight / total }));
  components.sort((a, b) => (a.voice < b.voice ? -1 : a.voice > b.voice ? 1 : 0));
  return { spec: canonicalVoice(components), components };
}

/**
 * The blend editor's rows as one voice: every row needs a voice and a weight
 * (a positive number); the result is {@link parseVoice}'s (canonical string,
 * or the problem). One row is that voice alone.
 */
export function blendFromRows(rows: readonly BlendRow[], options: VoiceCheckOptions = {}): VoiceCheck {
  if (!rows.length) return { problem: "Add at least one voice to the blend." };
  for (const [index, row] of rows.entries()) {
    if (!row.voice.trim()) return { problem: `Choose a voice for row ${index + 1} of the blend.` };
    if (!row.weight.trim()) return { problem: `Give "${row.voice.trim()}" a weight (a positive number).` };
  }
  return parseVoice(rows.map((row) => `${row.voice.trim()}:${row.weight.trim()}`).join("+"), options);
}

/**
 * Rows for the blend editor from a stored voice: one row per component with
 * its normalized weight (`"a:0.6+b:0.4"` → `[{a, "0.6"}, {b, "0.4"}]`), one
 * row with weight 1 for a single voice, none for null or a string that does
 * not parse.
 */
export function rowsFromVoice(spec: string | null | undefined): BlendRow[] {
  if (!spec) return [];
  const check = parseVoice(spec, { maxVoices: Number.POSITIVE_INFINITY });
  if (!isValidVoice(check)) return [];
  return check.components.map(({ voice, weight }) => ({ voice, weight: formatWeight(weight) }));
}

/** True for a blend of two or more voices (`"a:0.5+b:0.5"`), false for one voice id. */
export function isBlend(spec: string | null | undefined): boolean {
  return !!spec && spec.includes("+");
}

/**
 * A voice for people: the id, or a blend as percentages
 * (`"a:0.6+b:0.4"` → `"a 60 % + b 40 %"`); the text itself when it does not parse.
 */
export function describeVoice(spec: string): string {
  const check = parseVoice(spec, { maxVoices: Number.POSITIVE_INFINITY });
  if (!isValidVoice(check) || check.components.length === 1) return spec;
  return check.components.map(({ voice, weight }) => `${voice} ${Math.round(weight * 1000) / 10} %`).join(" + ");
}

/** A speed factor for people: `1` → `"1.00×"`. */
export function formatSpeed(speed: number): string {
  return `${speed.toFixed(2)}×`;
}
