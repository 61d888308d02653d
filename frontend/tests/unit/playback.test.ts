/** Play all's pacing arithmetic: lead-in, paragraph and chapter pauses, tail, skipped segments, totals; the pacing constants. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { MAX_CHAPTER_TITLE_LENGTH } from "@/components/ChapterHeader";
import { planTimes, playAllPlan, startsChapter } from "@/lib/playback";
import { DEFAULT_PACING, MAX_PAUSE_SECONDS } from "@/lib/types";

const seg = (id: string, audio = true, chapter: string | null = null) => ({
  id,
  audio_file: audio ? `/media/${id}.wav` : null,
  chapter_title: chapter,
});
const pacing = { paragraph_pause: 0.5, chapter_pause: 3, lead_in: 1, tail: 4 };

describe("playAllPlan", () => {
  it("lead-in before the first, paragraph pauses between, tail after the last", () => {
    const plan = playAllPlan([seg("a"), seg("b"), seg("c")], pacing);
    expect(plan.steps).toEqual([
      { segmentId: "a", pauseBefore: 1, pauseKind: "lead-in" },
      { segmentId: "b", pauseBefore: 0.5, pauseKind: "paragraph" },
      { segmentId: "c", pauseBefore: 0.5, pauseKind: "paragraph" },
    ]);
    expect(plan.tail).toBe(4);
  });

  it("a chapter pause before a chapter start; the first segment gets the lead-in even when it starts a chapter", () => {
    const plan = playAllPlan([seg("h1", true, "One"), seg("p1"), seg("h2", true, "Two"), seg("p2")], pacing);
    expect(plan.steps.map((step) => [step.segmentId, step.pauseBefore, step.pauseKind])).toEqual([
      ["h1", 1, "lead-in"],
      ["p1", 0.5, "paragraph"],
      ["h2", 3, "chapter"],
      ["p2", 0.5, "paragraph"],
    ]);
  });

  it("skips segments without audio, keeping a skipped chapter start's chapter pause", () => {
    const plan = playAllPlan([seg("a"), seg("gap", false), seg("h2", false, "Two"), seg("b"), seg("c", false), seg("d")], pacing);
    expect(plan.steps.map((step) => [step.segmentId, step.pauseBefore])).toEqual([
      ["a", 1],
      ["b", 3], // "Two" starts at a segment that has no audio: still a chapter break
      ["d", 0.5],
    ]);
  });

  it("starting from a later position: lead-in first, then the same rules", () => {
    const segments = [seg("a"), seg("b"), seg("h", true, "Two"), seg("c")];
    const plan = playAllPlan(segments, pacing, 2);
    expect(plan.steps.map((step) => [step.segmentId, step.pauseBefore])).toEqual([
      ["h", 1],
      ["c", 0.5],
    ]);
  });

  it("nothing to play: no steps and no tail", () => {
    expect(playAllPlan([seg("a", false)], pacing)).toEqual({ steps: [], tail: 0 });
    expect(playAllPlan([], pacing)).toEqual({ steps: [], tail: 0 });
  });

  it("a blank chapter title does not start a chapter", () => {
    expect(startsChapter({ chapter_title: "  " })).toBe(false);
    expect(startsChapter({ chapter_title: null })).toBe(false);
    expect(startsChapter({ chapter_title: "I" })).toBe(true);
    const plan = playAllPlan([seg("a"), seg("b", true, " ")], pacing);
    expect(plan.steps[1].pauseKind).toBe("paragraph");
  });
});

describe("pacing constants", () => {
  // backend/api/models.py holds the defaults and the limit; read them there so a change on one side fails here.
  const models = readFileSync(join(__dirname, "../../../backend/api/models.py"), "utf8");
  const constant = (name: string) => Number(new RegExp(`^${name} = ([0-9.]+)$`, "m").exec(models)?.[1]);

  it("the defaults and the longest pause are the backend's", () => {
    expect(DEFAULT_PACING).toEqual({
      paragraph_pause: constant("DEFAULT_PARAGRAPH_PAUSE"),
      chapter_pause: constant("DEFAULT_CHAPTER_PAUSE"),
      lead_in: constant("DEFAULT_LEAD_IN"),
      tail: constant("DEFAULT_TAIL"),
    });
    expect(MAX_PAUSE_SECONDS).toBe(constant("MAX_PAUSE_SECONDS"));
    expect(MAX_CHAPTER_TITLE_LENGTH).toBe(constant("MAX_CHAPTER_TITLE_LENGTH"));
  });
});

describe("planTimes", () => {
  it("each segment starts after the audio and pauses before it; the total adds the tail", () => {
    const segments = [seg("h1", true, "One"), seg("p1"), seg("h2", true, "Two")];
    const plan = playAllPlan(segments, DEFAULT_PACING);
    const { starts, total } = planTimes(plan, { h1: 1.25, p1: 3.5, h2: 1 });
    // 0.75 lead-in | h1 1.25 | 0.6 | p1 3.5 | 2.0 chapter pause | h2 1 | 2.0 tail
    expect(starts).toEqual([0.75, 0.75 + 1.25 + 0.6, 0.75 + 1.25 + 0.6 + 3.5 + 2.0]);
    expect(total).toBeCloseTo(0.75 + 1.25 + 0.6 + 3.5 + 2.0 + 1 + 2.0, 10);
  });

  it("is 0 for an empty plan", () => {
    expect(planTimes({ steps: [], tail: 0 }, {})).toEqual({ starts: [], total: 0 });
  });
});
