/** Shared test data: a JSON `Response` for a mocked fetch, and a task status body. */
import type { TaskStatusResponse } from "@/lib/types";

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
