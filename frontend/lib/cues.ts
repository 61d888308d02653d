/**
 * Sentence highlight while a segment plays: which part of the segment's text
 * each cue (`{start, end, text}`, seconds in the segment's audio) speaks.
 *
 * The cue texts come from the engine, which normalizes typography before
 * synthesis (NFKC, curly quotes made straight, `--` to an em-dash, markup
 * such as `*` or `#` dropped, spaces collapsed), so a cue's text is not
 * always a literal substring of the segment's text. Cues are therefore
 * matched on their letters and digits only (case-folded), in order, and
 * mapped back to character offsets in the original text.
 *
 * Matching is deliberately strict, so a cue is highlighted on its own words
 * or not at all:
 * - each cue is first looked for exactly where the previous one ended;
 * - if it is not there (the text was edited after the audio was made), a
 *   later occurrence counts only when it starts a sentence (the text before
 *   it ends with . ! ? : ; or a dash, or nothing) and ends one (only
 *   punctuation, quotes or brackets up to the next space);
 * - otherwise the cue gets no range and nothing is highlighted while it plays.
 */
import type { Cue } from "./types";

/** A part of a text: `[start, end)` in UTF-16 code units, as `String.prototype.slice` takes them. */
export interface TextRange {
  start: number;
  end: number;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;
/** Characters that end a sentence or clause before a new one starts. */
const SENTENCE_END = /[.!?:;\u2014\u2013\u2026]/u;

/** A text reduced to its case-folded letters and digits, with each folded unit's span in the original. */
interface Folded {
  text: string;
  /** For each UTF-16 unit of `text`: where its original character starts and ends. */
  from: number[];
  to: number[];
}

/** Fold `text` to its letters and digits (NFKC, lower case), remembering where each came from. */
function fold(text: string): Folded {
  let folded = "";
  const from: number[] = [];
  const to: number[] = [];
  let offset = 0;
  for (const character of text) {
    const start = offset;
    offset += character.length;
    for (const piece of character.normalize("NFKC").toLowerCase()) {
      if (!WORD_CHAR.test(piece)) continue;
      folded += piece;
      for (let unit = 0; unit < piece.length; unit += 1) {
        from.push(start);
        to.push(offset);
      }
    }
  }
  return { text: folded, from, to };
}

/** Only the case-folded letters and digits of `text`. */
export function foldedWords(text: string): string {
  return fold(text).text;
}

const isPunctuation = (character: string | undefined): boolean =>
  character !== undefined && !SPACE.test(character) && !WORD_CHAR.test(character);

/**
 * Widen a match (first letter to last letter) over the punctuation touching
 * it on either side (quotes, brackets, ". ! ?", dashes), without reaching
 * back before `floor` (the end of the previous cue's range).
 */
function widen(text: string, start: number, end: number, floor: number): TextRange {
  while (start > floor && isPunctuation(text[start - 1])) start -= 1;
  while (end < text.length && isPunctuation(text[end])) end += 1;
  return { start, end };
}

/** True when the original text before `start` (skipping spaces and opening marks) ends a sentence, or is empty. */
function startsSentence(text: string, start: number): boolean {
  let index = start - 1;
  while (index >= 0 && (SPACE.test(text[index]) || /["'(\[\u201c\u2018\u00ab]/u.test(text[index]))) index -= 1;
  if (index < 0) return true;
  // Closing quotes or brackets after the mark: `"Stop!" She ran.`
  while (index >= 0 && /["')\]\u201d\u2019\u00bb]/u.test(text[index])) index -= 1;
  return index >= 0 && SENTENCE_END.test(text[index]);
}

/** True when, after `end`, only punctuation comes before the next space or the end of the text. */
function endsSentence(text: string, end: number): boolean {
  let index = end;
  while (index < text.length && isPunctuation(text[index])) index += 1;
  return index >= text.length || SPACE.test(text[index]);
}

/**
 * The part of `text` each cue speaks, in cue order: a {@link TextRange}, or
 * null when the cue's words cannot be placed with confidence (see the module
 * rules). `cues` must be in time order, as the API gives them.
 */
export function locateCues(text: string, cues: readonly Pick<Cue, "text">[]): (TextRange | null)[] {
  const haystack = fold(text);
  let cursor = 0; // in folded units: where the previous placed cue ended
  let floor = 0; // in original units: nothing before this is given to a later cue
  return cues.map((cue) => {
    const needle = foldedWords(cue.text ?? "");
    if (!needle) return null;
    let at = -1;
    if (haystack.text.startsWith(needle, cursor)) {
      at = cursor;
    } else {
      for (let found = haystack.text.indexOf(needle, cursor); found >= 0; found = haystack.text.indexOf(needle, found + 1)) {
        const start = haystack.from[found];
        const end = haystack.to[found + needle.length - 1];
        if (start >= floor && startsSentence(text, start) && endsSentence(text, end)) {
          at = found;
          break;
        }
      }
    }
    if (at < 0) return null;
    const range = widen(text, haystack.from[at], haystack.to[at + needle.length - 1], floor);
    cursor = at + needle.length;
    floor = range.end;
    return range;
  });
}

/**
 * The cue being spoken at `time` seconds into the segment's audio: the index
 * of the last cue with `start <= time < end`, or -1 between or outside cues.
 */
export function activeCueIndex(cues: readonly Pick<Cue, "start" | "end">[], time: number): number {
  if (!Number.isFinite(time)) return -1;
  for (let index = cues.length - 1; index >= 0; index -= 1) {
    if (cues[index].start <= time && time < cues[index].end) return index;
  }
  return -1;
}

/**
 * The text split around the highlighted part: `[before, highlighted, after]`,
 * or null when there is nothing to highlight (no range, or an empty one).
 */
export function splitForHighlight(text: string, range: TextRange | null | undefined): [string, string, string] | null {
  if (!range || range.end <= range.start || range.start < 0 || range.end > text.length) return null;
  return [text.slice(0, range.start), text.slice(range.start, range.end), text.slice(range.end)];
}
