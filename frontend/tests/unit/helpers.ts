/** Shared test data and set-up: a mocked global fetch, a JSON `Response` for it, a task status body, a segment. */
import { afterEach, beforeEach, vi } from "vitest";

import type { Segment, TaskStatusResponse } from "@/lib/types";

/**
 * Stub the global `fetch` with a mock for every test of the calling file: the
 * mock is reset (calls and implementations) before each test, and the real
 * fetch is put back after it. Call at the top level of a test file.
 */
export function stubFetch(): ReturnType<typeof vi.fn> {
  const fetchMock = vi.fn();
  beforeEach(() => {
    fetchMock.mockReset();
    vi.stubGlobal("fetch", fetchMock);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  return fetchMock;
}

/** A JSON response with `status`; no body when `body` is undefined (e.g. a 204). */
export function jsonResponse(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** A task status body: a PROCESSING batch with no progress yet, with `extra` on top. */
export function taskStatus(extra: Partial<TaskStatusResponse> = {}): TaskStatusResponse {
  return {
    task_id: "tts_batch_p_1",
    status: "PROCESSING",
    progress: { current: 0, total: 0, percentage: 0 },
    completed_segments: [],
    errors: [],
    ...extra,
  };
}

/** A segment as the API sends it: "s1" of project "p", unlocked, no audio, cues, voice or speed; `extra` on top. */
export function segmentFixture(extra: Partial<Segment> = {}): Segment {
  return {
    id: "s1",
    project: "p",
    sequence_index: 0,
    text_content: "",
    is_locked: false,
    audio_file: null,
    audio_duration: null,
    chapter_title: null,
    cues: [],
    voice: null,
    speed: null,
    audio_stale: false,
    ...extra,
  };
}
