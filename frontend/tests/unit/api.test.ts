/**
 * lib/api.ts: every call's URL, method and body, error handling, and
 * pollTaskStatus's timing (fake timers), terminal statuses and error stop.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import * as api from "@/lib/api";
import type { TaskStatus, TaskStatusResponse } from "@/lib/types";
import { jsonResponse, taskStatus } from "./helpers";

type FetchMock = ReturnType<typeof vi.fn>;

const statusBody = (status: TaskStatus, extra: Partial<TaskStatusResponse> = {}) =>
  taskStatus({ status, progress: { current: 1, total: 3, percentage: 33 }, ...extra });

let fetchMock: FetchMock;

beforeEach(() => {
  fetchMock = vi.fn();
  vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** The [url, method, parsed body] of fetch call `index`. */
function call(index = 0): [string, string, unknown] {
  const [url, init] = fetchMock.mock.calls[index] as [string, RequestInit];
  return [url, init.method ?? "GET", init.body === undefined ? undefined : JSON.parse(String(init.body))];
}

describe("spec 03.02.09 functions", () => {
  it("generateSegmentAudio POSTs to /api/segments/{id}/generate-audio/ with no body", async () => {
    const answer = { task_id: "tts_s1_ab", segment_id: "s1", status: "PENDING", message: "Audio generation started" };
    fetchMock.mockImplementation(async () => jsonResponse(202, answer));
    await expect(api.generateSegmentAudio("s1")).resolves.toEqual(answer);
    expect(call()).toEqual(["/api/segments/s1/generate-audio/", "POST", undefined]);
  });

  it("generateAllAudio POSTs the spec's defaults: skip_locked true, force_regenerate false", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(202, { task_id: "tts_batch_p_1", project_id: "p" }));
    const answer = await api.generateAllAudio("p");
    expect(call()).toEqual(["/api/projects/p/generate-all-audio/", "POST", { skip_locked: true, force_regenerate: false }]);
    expect(api.isBulkTaskStarted(answer)).toBe(true);
  });

  it("generateAllAudio passes the options through", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(202, { task_id: "t" }));
    await api.generateAllAudio("p", { skipLocked: false, forceRegenerate: true });
    expect(call()[2]).toEqual({ skip_locked: false, force_regenerate: true });
  });

  it("generateAllAudio's 200 'nothing to do' answer has no task", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, { message: "No segments to process", total_segments: 2, segments_to_process: 0 }));
    const answer = await api.generateAllAudio("p");
    expect(api.isBulkTaskStarted(answer)).toBe(false);
  });

  it("a 409 from generateAllAudio carries the running batch's id", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(409, { error: "A batch is already running", task_id: "tts_batch_p_old" }));
    const error = await api.generateAllAudio("p").catch((caught) => caught);
    expect(error).toBeInstanceOf(api.ApiError);
    expect(error.status).toBe(409);
    expect(error.message).toBe("A batch is already running");
    expect(api.activeTaskIdFromConflict(error)).toBe("tts_batch_p_old");
    expect(api.activeTaskIdFromConflict(new Error("x"))).toBeNull();
  });

  it("getTaskStatus GETs /api/tasks/{id}/status/", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    await expect(api.getTaskStatus("tts_batch_p_1")).resolves.toMatchObject({ status: "PROCESSING" });
    expect(call()).toEqual(["/api/tasks/tts_batch_p_1/status/", "GET", undefined]);
  });

  it("getTaskStatus rejects with the 404 body's message", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(404, { error: "Task not found" }));
    await expect(api.getTaskStatus("nope")).rejects.toMatchObject({ status: 404, message: "Task not found" });
  });
});

describe("pollTaskStatus", () => {
  beforeEach(() => vi.useFakeTimers());

  it("polls every 2000 ms by default, first after one interval, and reports every status", async () => {
    fetchMock
      .mockResolvedValueOnce(jsonResponse(200, statusBody("PENDING")))
      .mockResolvedValueOnce(jsonResponse(200, statusBody("PROCESSING")))
      .mockResolvedValueOnce(jsonResponse(200, statusBody("COMPLETED")));
    const seen: TaskStatus[] = [];
    const done = api.pollTaskStatus("tts_batch_p_1", (status) => seen.push(status.status));

    await vi.advanceTimersByTimeAsync(1999);
    expect(fetchMock).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2000);

    await expect(done).resolves.toMatchObject({ status: "COMPLETED" });
    expect(seen).toEqual(["PENDING", "PROCESSING", "COMPLETED"]);
    expect(call(0)[0]).toBe("/api/tasks/tts_batch_p_1/status/");
    // Nothing more after the terminal status.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it("uses the given interval", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    void api.pollTaskStatus("t", () => {}, 500).catch(() => {});
    await vi.advanceTimersByTimeAsync(1600);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it.each<TaskStatus>(["COMPLETED", "FAILED", "CANCELLED"])("resolves on %s and stops polling", async (terminal) => {
    fetchMock
      .mockResolvedValueOnce(jsonResponse(200, statusBody("PROCESSING")))
      .mockResolvedValueOnce(jsonResponse(200, statusBody(terminal)))
      .mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    const onProgress = vi.fn();
    const done = api.pollTaskStatus("t", onProgress, 1000);
    await vi.advanceTimersByTimeAsync(2000);
    await expect(done).resolves.toMatchObject({ status: terminal });
    expect(onProgress).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it("keeps polling while PENDING or PROCESSING", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    let settled = false;
    api.pollTaskStatus("t", () => {}, 1000).then(
      () => (settled = true),
      () => (settled = true),
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetchMock).toHaveBeenCalledTimes(10);
    expect(settled).toBe(false);
  });

  it("rejects on an HTTP error and stops polling", async () => {
    fetchMock
      .mockResolvedValueOnce(jsonResponse(200, statusBody("PROCESSING")))
      .mockResolvedValueOnce(jsonResponse(404, { error: "Task not found" }))
      .mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    const onProgress = vi.fn();
    const done = api.pollTaskStatus("t", onProgress, 1000);
    const outcome = done.catch((error) => error);
    await vi.advanceTimersByTimeAsync(2000);
    const error = await outcome;
    expect(error).toBeInstanceOf(api.ApiError);
    expect(error.status).toBe(404);
    expect(onProgress).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
  });

  it("rejects on a network error and stops polling", async () => {
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch")).mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    const outcome = api.pollTaskStatus("t", () => {}, 1000).catch((error) => error);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toBeInstanceOf(TypeError);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("stops when aborted", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, statusBody("PROCESSING")));
    const controller = new AbortController();
    const outcome = api.pollTaskStatus("t", () => {}, 1000, controller.signal).catch((error) => error);
    await vi.advanceTimersByTimeAsync(1000);
    controller.abort(new Error("unmounted"));
    expect((await outcome).message).toBe("unmounted");
    await vi.advanceTimersByTimeAsync(5000);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});

describe("the other endpoints", () => {
  const cases: [string, () => Promise<unknown>, string, string, unknown, number, unknown][] = [
    ["cancelTask", () => api.cancelTask("t1"), "/api/tasks/t1/cancel/", "POST", undefined, 202, statusBody("PROCESSING")],
    ["getProjectTasks", () => api.getProjectTasks("p"), "/api/projects/p/tasks/", "GET", undefined, 200, { project_id: "p", tasks: [] }],
    ["getTaskLogs", () => api.getTaskLogs("t1"), "/api/tasks/t1/logs/", "GET", undefined, 200, { task_id: "t1", logs: [] }],
    ["listProjects", () => api.listProjects(), "/api/projects/", "GET", undefined, 200, []],
    ["getProject", () => api.getProject("p"), "/api/projects/p/", "GET", undefined, 200, { id: "p", segments: [] }],
    ["createProject", () => api.createProject("My story"), "/api/projects/", "POST", { title: "My story" }, 201, { id: "p" }],
    ["updateProject", () => api.updateProject("p", { title: "New" }), "/api/projects/p/", "PATCH", { title: "New" }, 200, { id: "p" }],
    ["deleteProject", () => api.deleteProject("p"), "/api/projects/p/", "DELETE", undefined, 204, undefined],
    ["importStory", () => api.importStory({ title: "T", text: "A.\n\nB." }), "/api/projects/import/", "POST", { title: "T", text: "A.\n\nB." }, 201, { id: "p", segments: [] }],
    ["listSegments", () => api.listSegments("p q"), "/api/segments/?project=p%20q", "GET", undefined, 200, []],
    ["createSegment", () => api.createSegment({ project: "p", text_content: "Hi" }), "/api/segments/", "POST", { project: "p", text_content: "Hi" }, 201, { id: "s" }],
    ["updateSegment", () => api.updateSegment("s", { is_locked: true }), "/api/segments/s/", "PATCH", { is_locked: true }, 200, { id: "s" }],
    ["updateSegment order", () => api.updateSegment("s", { sequence_index: 2 }), "/api/segments/s/", "PATCH", { sequence_index: 2 }, 200, { id: "s" }],
    ["deleteSegment", () => api.deleteSegment("s"), "/api/segments/s/", "DELETE", undefined, 204, undefined],
    ["getSettings", () => api.getSettings(), "/api/settings/", "GET", undefined, 200, { default_voice_id: "jf_alpha", tts_speed: 1 }],
    ["updateSettings", () => api.updateSettings({ tts_speed: 1.25 }), "/api/settings/", "PATCH", { tts_speed: 1.25 }, 200, { default_voice_id: "jf_alpha", tts_speed: 1.25 }],
    ["getVoices", () => api.getVoices(), "/api/voices/", "GET", undefined, 200, { voices: ["jf_alpha"] }],
  ];

  it.each(cases)("%s", async (_name, run, url, method, body, status, answer) => {
    fetchMock.mockImplementation(async () => jsonResponse(status, answer));
    const result = await run();
    expect(call()).toEqual([url, method, body]);
    const init = fetchMock.mock.calls[0][1] as RequestInit;
    if (body !== undefined) expect((init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    if (answer !== undefined && method !== "DELETE") expect(result).toEqual(answer);
  });

  it("joins DRF field errors into the error message", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(400, { tts_speed: ["Ensure this value is less than or equal to 2.0."] }));
    await expect(api.updateSettings({ tts_speed: 3 })).rejects.toThrow("tts_speed: Ensure this value is less than or equal to 2.0.");
  });
});
