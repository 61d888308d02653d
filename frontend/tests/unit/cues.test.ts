/** The sentence highlight: cue texts located in the segment text in order, strictly, and the cue playing at a time. */
import { describe, expect, it } from "vitest";

import { activeCueIndex, locateCues, splitForHighlight } from "@/lib/cues";

/** The highlighted text of each cue (or null). */
function located(text: string, cues: string[]): (string | null)[] {
  return locateCues(text, cues.map((cue) => ({ text: cue }))).map((range) => (range ? text.slice(range.start, range.end) : null));
}

describe("locateCues", () => {
  it("finds each sentence in order, with its punctuation", () => {
    const text = "Alice was tired. She had nothing to do! Was it a dream?";
    expect(located(text, ["Alice was tired.", "She had nothing to do!", "Was it a dream?"])).toEqual([
      "Alice was tired.",
      "She had nothing to do!",
      "Was it a dream?",
    ]);
  });

  it("matches the engine's normalized text: straight quotes, em-dash, collapsed spaces, markup dropped", () => {
    const text = "\u201cOh dear!\u201d said the  Rabbit -- late again.\n*Very* late.";
    expect(located(text, ['"Oh dear!" said the Rabbit \u2014 late again.', "Very late."])).toEqual([
      "\u201cOh dear!\u201d said the  Rabbit -- late again.",
      "*Very* late.",
    ]);
  });

  it("is case-insensitive and ignores punctuation differences", () => {
    expect(located("WELL, then.", ["well then"])).toEqual(["WELL, then."]);
  });

  it("places a repeated sentence at its own occurrence, in order", () => {
    const text = "No. Yes. No.";
    expect(locateCues(text, [{ text: "No." }, { text: "Yes." }, { text: "No." }])).toEqual([
      { start: 0, end: 3 },
      { start: 4, end: 8 },
      { start: 9, end: 12 },
    ]);
  });

  it("a cue whose words are not in the text gets nothing, and the next cues still match", () => {
    const text = "The cat sat. It purred.";
    expect(located(text, ["The dog sat.", "It purred."])).toEqual([null, "It purred."]);
  });

  it("never highlights the same words inside another sentence (text edited after the audio)", () => {
    // The audio said "Yes." but the text now says "No." — "yes" inside the next sentence is not that cue.
    const text = "No. I said yes to him.";
    expect(located(text, ["Yes.", "I said yes to him."])).toEqual([null, "I said yes to him."]);
  });

  it("skips a sentence that was inserted into the text after the audio was made", () => {
    const text = "First one. An inserted sentence. Second one.";
    expect(located(text, ["First one.", "Second one."])).toEqual(["First one.", "Second one."]);
  });

  it("gives nothing for a cue with no letters or digits, or an empty text", () => {
    expect(located("Hello... there.", ["...", "Hello... there."])).toEqual([null, "Hello... there."]);
    expect(located("", ["Hi."])).toEqual([null]);
  });

  it("returns offsets that slice the original text (astral characters included)", () => {
    const text = "😀 Smile. Then 𝒜 letter.";
    const ranges = locateCues(text, [{ text: "Smile." }, { text: "Then 𝒜 letter." }]);
    expect(ranges.map((range) => range && text.slice(range.start, range.end))).toEqual(["Smile.", "Then 𝒜 letter."]);
  });
});

describe("activeCueIndex", () => {
  const cues = [
    { start: 0.0, end: 1.5 },
    { start: 1.8, end: 3.0 },
    { start: 3.0, end: 4.2 },
  ];

  it("is the cue whose [start, end) holds the time", () => {
    expect(activeCueIndex(cues, 0)).toBe(0);
    expect(activeCueIndex(cues, 1.49)).toBe(0);
    expect(activeCueIndex(cues, 2.0)).toBe(1);
    expect(activeCueIndex(cues, 3.0)).toBe(2);
  });

  it("is -1 in a pause between cues, after the last, and for a bad time", () => {
    expect(activeCueIndex(cues, 1.6)).toBe(-1);
    expect(activeCueIndex(cues, 4.2)).toBe(-1);
    expect(activeCueIndex(cues, Number.NaN)).toBe(-1);
    expect(activeCueIndex([], 1)).toBe(-1);
  });
});

describe("splitForHighlight", () => {
  it("splits around the range, or gives null for none", () => {
    expect(splitForHighlight("abc def", { start: 4, end: 7 })).toEqual(["abc ", "def", ""]);
    expect(splitForHighlight("abc", null)).toBeNull();
    expect(splitForHighlight("abc", { start: 2, end: 2 })).toBeNull();
    expect(splitForHighlight("abc", { start: 1, end: 9 })).toBeNull();
  });
});
