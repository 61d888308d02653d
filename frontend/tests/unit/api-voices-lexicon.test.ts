/**
 * lib/api.ts for issue 9: the lexicon CRUD, the speech preview, the voice
 * sample (a WAV Blob), voice/speed in project and segment PATCHes, the
 * mapping of 400 field errors, and lib/generation.ts (Generate all's counts).
 */
import { describe, expect, it } from "vitest";

import * as api from "@/lib/api";
import { generateAllNotice, segmentsToGenerate } from "@/lib/generation";
import type { BulkTaskResponse, PronunciationRule } from "@/lib/types";
import { jsonResponse, stubFetch } from "./helpers";

const fetchMock = stubFetch();

/** The [url, method, parsed body] of fetch call `index`. */
function call(index = 0): [string, string, unknown] {
  const [url, init] = fetchMock.mock.calls[index] as [string, RequestInit];
  return [url, init.method ?? "GET", init.body === undefined ? undefined : JSON.parse(String(init.body))];
}

const rule = (extra: Partial<PronunciationRule> = {}): PronunciationRule => ({
  id: "r1",
  project: "p",
  pattern: "Dantès",
  replacement: "Dahn-tess",
  case_sensitive: false,
  kind: "respelling",
  created_at: "2026-05-01T10:00:00Z",
  updated_at: "2026-05-01T10:00:00Z",
  ...extra,
});

describe("lexicon", () => {
  it("listPronunciationRules GETs /api/projects/{id}/lexicon/", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, [rule()]));
    await expect(api.listPronunciationRules("p")).resolves.toEqual([rule()]);
    expect(call()).toEqual(["/api/projects/p/lexicon/", "GET", undefined]);
  });

  it("createPronunciationRule POSTs the rule as JSON and resolves with the 201 body", async () => {
    const created = rule({ replacement: "/dɑːntˈɛs/", kind: "phonemes" });
    fetchMock.mockImplementation(async () => jsonResponse(201, created));
    const body = { pattern: "Dantès", replacement: "/dɑːntˈɛs/", case_sensitive: true };
    await expect(api.createPronunciationRule("p", body)).resolves.toEqual(created);
    expect(call()).toEqual(["/api/projects/p/lexicon/", "POST", body]);
    const init = fetchMock.mock.calls[0][1] as RequestInit;
    expect((init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
  });

  it("updatePronunciationRule PATCHes only the given fields", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, rule({ replacement: "Don-tess" })));
    await api.updatePronunciationRule("p", "r1", { replacement: "Don-tess" });
    expect(call()).toEqual(["/api/projects/p/lexicon/r1/", "PATCH", { replacement: "Don-tess" }]);
  });

  it("deletePronunciationRule DELETEs and resolves on 204", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(204));
    await expect(api.deletePronunciationRule("p", "r1")).resolves.toBeUndefined();
    expect(call()).toEqual(["/api/projects/p/lexicon/r1/", "DELETE", undefined]);
  });

  it("a 400 names the bad field: ApiError message and fieldErrors", async () => {
    const body = { replacement: ["Unknown phoneme symbols: 'X' (in /dXn/)."] };
    fetchMock.mockImplementation(async () => jsonResponse(400, body));
    const error = await api.createPronunciationRule("p", { pattern: "Dantès", replacement: "/dXn/" }).catch((caught) => caught);
    expect(error).toBeInstanceOf(api.ApiError);
    expect(error.status).toBe(400);
    expect(error.body).toEqual(body);
    expect(error.message).toBe("replacement: Unknown phoneme symbols: 'X' (in /dXn/).");
    expect(api.fieldErrors(error)).toEqual({ replacement: "Unknown phoneme symbols: 'X' (in /dXn/)." });
  });

  it("a 404 is an ApiError with the detail, and no field errors", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(404, { detail: "Not found." }));
    const error = await api.listPronunciationRules("nope").catch((caught) => caught);
    expect(error).toMatchObject({ status: 404, message: "Not found." });
    expect(api.fieldErrors(error)).toBeNull();
  });
});

describe("fieldErrors", () => {
  it("joins a field's messages and keeps every field", () => {
    const error = new api.ApiError(400, { pattern: ["Too long.", "Has no letters."], non_field_errors: ["Duplicate."] }, "x");
    expect(api.fieldErrors(error)).toEqual({ pattern: "Too long. Has no letters.", non_field_errors: "Duplicate." });
  });

  it("is null for other statuses, other errors, and bodies without fields", () => {
    expect(api.fieldErrors(new api.ApiError(409, { voice: ["x"] }, "x"))).toBeNull();
    expect(api.fieldErrors(new Error("x"))).toBeNull();
    expect(api.fieldErrors(new api.ApiError(400, "plain text", "x"))).toBeNull();
    expect(api.fieldErrors(new api.ApiError(400, {}, "x"))).toBeNull();
  });
});

describe("speech preview", () => {
  const answer = { spoken_text: "Dahn-tess came home.", phonemes: "dˈɑːntɛs kˈeɪm hˈoʊm.", token_count: 21, rules_applied: ["r1"] };

  it("POSTs text, project and voice to /api/speech/preview/", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, answer));
    await expect(api.previewSpeech({ text: "Dantès came home.", project: "p", voice: "bf_emma" })).resolves.toEqual(answer);
    expect(call()).toEqual(["/api/speech/preview/", "POST", { text: "Dantès came home.", project: "p", voice: "bf_emma" }]);
  });

  it("leaves out a null project and an empty voice", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, answer));
    await api.previewSpeech({ text: "Hello.", project: null, voice: "" });
    expect(call()[2]).toEqual({ text: "Hello." });
  });

  it("a 400 rejects with the field's message", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(400, { text: ["This field may not be blank."] }));
    await expect(api.previewSpeech({ text: "" })).rejects.toMatchObject({ status: 400, message: "text: This field may not be blank." });
  });
});

describe("voice sample", () => {
  it("POSTs {voice, speed} to /api/voices/preview/ and resolves with the WAV as a Blob", async () => {
    const wav = new Uint8Array([82, 73, 70, 70, 0, 0, 0, 0, 87, 65, 86, 69]); // "RIFF....WAVE"
    fetchMock.mockImplementation(async () => new Response(wav, { status: 200, headers: { "Content-Type": "audio/wav" } }));
    const blob = await api.previewVoice({ voice: "af_bella:0.6+am_adam:0.4", speed: 1.2 });
    expect(call()).toEqual(["/api/voices/preview/", "POST", { voice: "af_bella:0.6+am_adam:0.4", speed: 1.2 }]);
    expect(blob.type).toBe("audio/wav");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(wav);
    const init = fetchMock.mock.calls[0][1] as RequestInit;
    expect((init.headers as Record<string, string>).Accept).toMatch(/audio\/wav/);
  });

  it("sends text only when given, and no speed when it is undefined", async () => {
    fetchMock.mockImplementation(async () => new Response(new Uint8Array([1]), { status: 200 }));
    await api.previewVoice({ voice: "af_heart", text: "A short line." });
    await api.previewVoice({ voice: "af_heart", text: "" });
    expect(call(0)[2]).toEqual({ voice: "af_heart", text: "A short line." });
    expect(call(1)[2]).toEqual({ voice: "af_heart" });
  });

  it("a 400 (bad voice) and a 503 (no model) reject with ApiErrors carrying the JSON body", async () => {
    const bad = { voice: ["Unknown voice 'xx' in the blend; available voices: af_heart."] };
    fetchMock.mockImplementationOnce(async () => jsonResponse(400, bad));
    const error = await api.previewVoice({ voice: "af_heart:1+xx:1" }).catch((caught) => caught);
    expect(error).toBeInstanceOf(api.ApiError);
    expect(api.fieldErrors(error)).toEqual({ voice: bad.voice[0] });

    fetchMock.mockImplementationOnce(async () => jsonResponse(503, { error: "No TTS model is installed." }));
    await expect(api.previewVoice({ voice: "af_heart" })).rejects.toMatchObject({ status: 503, message: "No TTS model is installed." });
  });
});

describe("voice and speed on projects and segments", () => {
  it("updateProject PATCHes voice and speed (null = inherit)", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, { id: "p", voice: "af_bella:0.6+am_adam:0.4", speed: null }));
    await api.updateProject("p", { voice: "af_bella:0.6+am_adam:0.4", speed: null });
    expect(call()).toEqual(["/api/projects/p/", "PATCH", { voice: "af_bella:0.6+am_adam:0.4", speed: null }]);
  });

  it("updateSegment PATCHes voice and speed; a bad voice is a 400 with the voice's message", async () => {
    fetchMock.mockImplementationOnce(async () => jsonResponse(200, { id: "s1", voice: null, speed: 1.25, audio_stale: true }));
    await expect(api.updateSegment("s1", { voice: null, speed: 1.25 })).resolves.toMatchObject({ audio_stale: true });
    expect(call()).toEqual(["/api/segments/s1/", "PATCH", { voice: null, speed: 1.25 }]);

    fetchMock.mockImplementationOnce(async () =>
      jsonResponse(400, { voice: ["A blend mixes at most 5 voices; this one has 6."] }),
    );
    const error = await api.updateSegment("s1", { voice: "a+b+c+d+e+f" }).catch((caught) => caught);
    expect(api.fieldErrors(error)).toEqual({ voice: "A blend mixes at most 5 voices; this one has 6." });
  });
});

describe("Generate all (lib/generation.ts)", () => {
  const started = (extra: Partial<BulkTaskResponse> = {}): BulkTaskResponse => ({
    task_id: "tts_batch_p_1",
    project_id: "p",
    status: "PENDING",
    total_segments: 5,
    segments_to_process: 3,
    message: "Batch audio generation started",
    ...extra,
  });

  it("says how many segments miss audio and how many are out of date", () => {
    expect(generateAllNotice(started({ segments_missing_audio: 2, segments_stale: 1 }))).toBe(
      "Generating 3 segments: 2 missing audio, 1 out of date.",
    );
    expect(generateAllNotice(started({ segments_to_process: 1, segments_missing_audio: 0, segments_stale: 1 }))).toBe(
      "Generating 1 segment: 0 missing audio, 1 out of date.",
    );
  });

  it("keeps the backend's 'skipped' message, and says nothing without the counts", () => {
    const message = "Batch started; 2 locked segments skipped";
    expect(generateAllNotice(started({ message, segments_missing_audio: 3, segments_stale: 0 }))).toBe(
      `Generating 3 segments: 3 missing audio, 0 out of date. ${message}`,
    );
    expect(generateAllNotice(started({ message }))).toBe(message);
    expect(generateAllNotice(started())).toBeNull();
  });

  it("expects the segments without audio or with out-of-date audio, as the backend picks them", () => {
    const segments = [
      { id: "fresh", is_locked: false, audio_file: "/a.wav", audio_stale: false, text_content: "A." },
      { id: "stale", is_locked: false, audio_file: "/b.wav", audio_stale: true, text_content: "B." },
      { id: "missing", is_locked: false, audio_file: null, audio_stale: false, text_content: "C." },
      { id: "locked", is_locked: true, audio_file: null, audio_stale: false, text_content: "D." },
      { id: "empty", is_locked: false, audio_file: null, audio_stale: false, text_content: "  " },
    ];
    expect(segmentsToGenerate(segments, { skipLocked: true, forceRegenerate: false })).toEqual(["stale", "missing"]);
    expect(segmentsToGenerate(segments, { skipLocked: false, forceRegenerate: false })).toEqual(["stale", "missing", "locked"]);
    expect(segmentsToGenerate(segments, { skipLocked: true, forceRegenerate: true })).toEqual(["fresh", "stale", "missing"]);
  });
});
