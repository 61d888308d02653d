/** Play all's pacing arithmetic: lead-in, paragraph and chapter pauses, tail, skipped segments, totals. */
import { describe, expect, it } from "vitest";

import { effectivePacing, planTimes, playAllPlan, startsChapter } from "@/lib/playback";
import { DEFAULT_PACING } from "@/lib/types";

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

describe("effectivePacing", () => {
  it("uses the project's values, the defaults for missing ones, and clamps to 0–10 s", () => {
    expect(effectivePacing(undefined)).toEqual(DEFAULT_PACING);
    expect(effectivePacing({ paragraph_pause: 0, chapter_pause: 12, lead_in: -1, tail: Number.NaN })).toEqual({
      paragraph_pause: 0,
      chapter_pause: 10,
      lead_in: 0,
      tail: DEFAULT_PACING.tail,
    });
  });

  it("the defaults are the backend's: 0.6, 2.0, 0.75, 2.0 s", () => {
    expect(DEFAULT_PACING).toEqual({ paragraph_pause: 0.6, chapter_pause: 2.0, lead_in: 0.75, tail: 2.0 });
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
