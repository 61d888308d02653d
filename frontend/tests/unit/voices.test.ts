/**
 * lib/voices.ts: parsing voice blends and building their canonical string.
 * The expected canonical strings and the accept/reject verdicts were produced
 * by the backend's `parse_voice(...).canonical` (backend/core_engine/voices.py)
 * on the same inputs, so the editor shows what the backend will store.
 */
import { describe, expect, it } from "vitest";

import {
  blendFromRows,
  canonicalVoice,
  describeVoice,
  formatSpeed,
  formatWeight,
  isBlend,
  isValidVoice,
  parseVoice,
  rowsFromVoice,
  type VoiceCheck,
} from "@/lib/voices";

const AVAILABLE = ["af_heart", "af_bella", "am_adam", "a_x", "b_y", "c_z", "d_w", "e_v", "f_u"];
const specOf = (check: VoiceCheck) => ("spec" in check ? check.spec : null);
const problemOf = (check: VoiceCheck) => ("problem" in check ? check.problem : null);

describe("parseVoice: canonical strings (as the backend writes them)", () => {
  const cases: [string, string][] = [
    ["af_heart", "af_heart"],
    [" af_heart ", "af_heart"],
    ["af_bella:0.6+am_adam:0.4", "af_bella:0.6+am_adam:0.4"],
    ["am_adam:0.4+af_bella:0.6", "af_bella:0.6+am_adam:0.4"], // sorted by voice id
    ["a_x:3+b_y:1", "a_x:0.75+b_y:0.25"], // normalized
    ["b_y:2+a_x:1", "a_x:0.3333+b_y:0.6667"], // 4 decimals
    ["a_x+b_y+c_z", "a_x:0.3333+b_y:0.3333+c_z:0.3333"], // no weight = equal parts
    ["a_x:1+b_y:31", "a_x:0.0312+b_y:0.9688"], // 0.03125 is a tie: to even, as Python
    ["a_x:0.5", "a_x"], // one voice: just its id
    ["a_x:1e-3+b_y:1", "a_x:0.001+b_y:0.999"],
    ["a_x:2+b_y:2+c_z:2+d_w:2+e_v:2", "a_x:0.2+b_y:0.2+c_z:0.2+d_w:0.2+e_v:0.2"],
    ["a_x:7+b_y:3+c_z:11", "a_x:0.3333+b_y:0.1429+c_z:0.5238"],
    ["a_x:1+b_y:2+c_z:3+d_w:4+e_v:5", "a_x:0.0667+b_y:0.1333+c_z:0.2+d_w:0.2667+e_v:0.3333"],
    ["a_x:0.1+b_y:0.2", "a_x:0.3333+b_y:0.6667"],
    ["a_x:.5+b_y:.5", "a_x:0.5+b_y:0.5"],
    ["a_x:5.+b_y:5", "a_x:0.5+b_y:0.5"],
    ["a_x:1+b_y:7", "a_x:0.125+b_y:0.875"],
    ["a_x:1+b_y:15", "a_x:0.0625+b_y:0.9375"],
    ["a_x:3+b_y:5", "a_x:0.375+b_y:0.625"],
    ["a_x:1_000+b_y:1", "a_x:0.999+b_y:0.001"], // Python's float() reads 1_000
  ];
  it.each(cases)("%j → %j", (input, canonical) => {
    expect(specOf(parseVoice(input, { available: AVAILABLE }))).toBe(canonical);
  });

  it("the canonical form parses to itself", () => {
    for (const [, canonical] of cases) expect(specOf(parseVoice(canonical))).toBe(canonical);
  });

  it("components are normalized (sum to 1) and sorted by id", () => {
    const check = parseVoice("b_y:3+a_x:1");
    expect(isValidVoice(check) && check.components).toEqual([
      { voice: "a_x", weight: 0.25 },
      { voice: "b_y", weight: 0.75 },
    ]);
  });
});

describe("parseVoice: rejected like the backend rejects them", () => {
  const cases: [string, RegExp][] = [
    ["a_x:1+b_y:1+c_z:1+d_w:1+e_v:1+f_u:1", /at most 5 voices; this one has 6/],
    ["a_x:0+b_y:1", /weight of "a_x" must be a positive number, got "0"/],
    ["a_x:-1+b_y:1", /positive number, got "-1"/],
    ["a_x:abc+b_y:1", /positive number, got "abc"/],
    ["a_x:+b_y:1", /positive number, got ""/],
    ["a_x:1:2+b_y", /positive number, got "1:2"/],
    ["a_x:inf+b_y:1", /positive number, got "inf"/],
    ["a_x:nan+b_y:1", /positive number, got "nan"/],
    ["a_x+a_x", /"a_x" appears twice/],
    ["a_x++b_y", /Empty part/],
    ["", /empty/],
    ["   ", /empty/],
    ["zz_unknown", /^Unknown voice "zz_unknown"\.$/],
    ["a_x:1+zz_unknown:1", /Unknown voice "zz_unknown" in the blend/],
    ["a x", /"a x" is not a voice id/],
    ["a".repeat(201), /longer than 200/],
  ];
  it.each(cases)("%j", (input, problem) => {
    expect(problemOf(parseVoice(input, { available: AVAILABLE }))).toMatch(problem);
  });

  it("unknown voices are only checked when the installed voices are given", () => {
    expect(specOf(parseVoice("zz_unknown"))).toBe("zz_unknown");
  });

  it("the blend limit follows max_blend_voices", () => {
    expect(problemOf(parseVoice("a_x+b_y+c_z", { maxVoices: 2 }))).toMatch(/at most 2 voices; this one has 3/);
    expect(specOf(parseVoice("a_x+b_y", { maxVoices: 2 }))).toBe("a_x:0.5+b_y:0.5");
  });
});

describe("formatWeight and canonicalVoice", () => {
  it.each([
    [0.6, "0.6"],
    [1 / 3, "0.3333"],
    [2 / 3, "0.6667"],
    [1, "1"],
    [0.03125, "0.0312"], // exact tie → even
    [0.09375, "0.0938"], // exact tie → even (8 is even: 937|5 → 938)
    [0.00005, "0.0001"], // not an exact tie in binary: above half
    [0.00004, "0"],
    [0.5, "0.5"],
  ])("%f → %s", (weight, text) => {
    expect(formatWeight(weight)).toBe(text);
  });

  it("a single component is its id; several are sorted a:w+b:w", () => {
    expect(canonicalVoice([{ voice: "af_heart", weight: 1 }])).toBe("af_heart");
    expect(
      canonicalVoice([
        { voice: "jm_kumo", weight: 0.4 },
        { voice: "jf_alpha", weight: 0.6 },
      ]),
    ).toBe("jf_alpha:0.6+jm_kumo:0.4");
  });
});

describe("blend editor rows", () => {
  it("builds the canonical string from rows with any positive weights", () => {
    expect(
      specOf(
        blendFromRows(
          [
            { voice: "am_adam", weight: "2" },
            { voice: "af_bella", weight: "3" },
          ],
          { available: AVAILABLE },
        ),
      ),
    ).toBe("af_bella:0.6+am_adam:0.4");
  });

  it("one row is that voice alone", () => {
    expect(specOf(blendFromRows([{ voice: "af_heart", weight: "0.3" }]))).toBe("af_heart");
  });

  it("names the row without a voice, the voice without a weight, and the rest as parseVoice does", () => {
    expect(problemOf(blendFromRows([]))).toMatch(/at least one voice/);
    expect(problemOf(blendFromRows([{ voice: "a_x", weight: "1" }, { voice: "", weight: "1" }]))).toBe(
      "Choose a voice for row 2 of the blend.",
    );
    expect(problemOf(blendFromRows([{ voice: "a_x", weight: " " }]))).toMatch(/Give "a_x" a weight/);
    expect(problemOf(blendFromRows([{ voice: "a_x", weight: "0" }, { voice: "b_y", weight: "1" }]))).toMatch(/positive number/);
    expect(problemOf(blendFromRows([{ voice: "a_x", weight: "1" }, { voice: "a_x", weight: "1" }]))).toMatch(/twice/);
    const six = ["a_x", "b_y", "c_z", "d_w", "e_v", "f_u"].map((voice) => ({ voice, weight: "1" }));
    expect(problemOf(blendFromRows(six))).toMatch(/at most 5/);
  });

  it("rows from a stored voice carry the normalized weights; nothing for null or garbage", () => {
    expect(rowsFromVoice("jm_kumo:0.4+jf_alpha:0.6")).toEqual([
      { voice: "jf_alpha", weight: "0.6" },
      { voice: "jm_kumo", weight: "0.4" },
    ]);
    expect(rowsFromVoice("af_heart")).toEqual([{ voice: "af_heart", weight: "1" }]);
    expect(rowsFromVoice(null)).toEqual([]);
    expect(rowsFromVoice("a_x:zero+b_y")).toEqual([]);
  });

  it("rows → string → rows → string is stable", () => {
    const spec = specOf(blendFromRows([{ voice: "c_z", weight: "7" }, { voice: "a_x", weight: "3" }, { voice: "b_y", weight: "11" }]));
    expect(spec).toBe("a_x:0.1429+b_y:0.5238+c_z:0.3333");
    expect(specOf(blendFromRows(rowsFromVoice(spec)))).toBe(spec);
  });
});

describe("labels", () => {
  it("isBlend, describeVoice, formatSpeed", () => {
    expect(isBlend("a_x:0.5+b_y:0.5")).toBe(true);
    expect(isBlend("af_heart")).toBe(false);
    expect(isBlend(null)).toBe(false);
    expect(describeVoice("jf_alpha:0.6+jm_kumo:0.4")).toBe("jf_alpha 60 % + jm_kumo 40 %");
    expect(describeVoice("af_heart")).toBe("af_heart");
    expect(formatSpeed(1.1)).toBe("1.10×");
  });
});
