/** Pure timeline logic: segment badges from tasks, reorder PATCH plans, polling stop, formatting. */
import { describe, expect, it } from "vitest";

import { taskRefetchInterval } from "@/hooks/useApi";
import { countOf, formatBytes, formatDuration, formatEta } from "@/lib/format";
import { moveChanges, renumber, sortSegments } from "@/lib/order";
import { segmentState } from "@/lib/segmentState";
import type { TaskStatusResponse } from "@/lib/types";
import { taskStatus } from "./helpers";

const task = (extra: Partial<TaskStatusResponse>) => taskStatus({ task_id: "t1", ...extra });
const seg = (id: string, audio: string | null = null) => ({ id, audio_file: audio });
const completed = (id: string) => ({ segment_id: id, audio_url: `/media/${id}.wav`, duration: 1 });

describe("segmentState", () => {
  const batch = task({
    task_id: "b1",
    segment_ids: ["a", "b", "c", "d"],
    progress: { current: 3, total: 4, percentage: 75, current_segment_id: "c" },
    completed_segments: [completed("a")],
    errors: [{ segment_id: "b", error: "boom" }],
  });

  it("reads a running batch: ready, error, generating, queued", () => {
    expect(segmentState(seg("a"), [batch])).toEqual({ badge: "ready" });
    expect(segmentState(seg("b"), [batch])).toEqual({ badge: "error", error: "boom" });
    expect(segmentState(seg("c"), [batch])).toEqual({ badge: "generating" });
    expect(segmentState(seg("d"), [batch])).toEqual({ badge: "queued" });
  });

  it("falls back to the segment's audio when no task mentions it", () => {
    expect(segmentState(seg("x", "/media/x.wav"), [batch])).toEqual({ badge: "ready" });
    expect(segmentState(seg("x"), [batch])).toEqual({ badge: "none" });
  });

  it("uses the editor's expected list when the backend gives no segment_ids", () => {
    const old = task({ task_id: "b2", progress: { current: 1, total: 2, percentage: 50, current_segment_id: "a" } });
    expect(segmentState(seg("b"), [old], { b2: ["a", "b"] })).toEqual({ badge: "queued" });
    expect(segmentState(seg("b"), [old])).toEqual({ badge: "none" });
  });

  it("a cancelled batch leaves untouched segments as they were", () => {
    const cancelled = { ...batch, status: "CANCELLED" as const };
    expect(segmentState(seg("d"), [cancelled])).toEqual({ badge: "none" });
    expect(segmentState(seg("a"), [cancelled])).toEqual({ badge: "ready" });
  });

  it("single-segment tasks: queued while PENDING, generating while PROCESSING, error with a null segment_id", () => {
    const single = (status: TaskStatusResponse["status"], extra: Partial<TaskStatusResponse> = {}) =>
      task({ task_id: "s1", status, segment_id: "a", ...extra });
    expect(segmentState(seg("a"), [single("PENDING")])).toEqual({ badge: "queued" });
    expect(segmentState(seg("a", "/m.wav"), [single("PROCESSING")])).toEqual({ badge: "generating" });
    expect(segmentState(seg("a"), [single("FAILED", { errors: [{ segment_id: null, error: "no model" }] })])).toEqual({ badge: "error", error: "no model" });
  });

  it("the latest task wins: a later success clears an earlier error", () => {
    const failed = task({ task_id: "t1", status: "COMPLETED", segment_ids: ["a"], errors: [{ segment_id: "a", error: "x" }] });
    const redo = task({ task_id: "t2", status: "COMPLETED", segment_id: "a", completed_segments: [completed("a")] });
    expect(segmentState(seg("a"), [failed, redo])).toEqual({ badge: "ready" });
    expect(segmentState(seg("a"), [redo, failed])).toEqual({ badge: "error", error: "x" });
  });
});

describe("ordering", () => {
  const segments = [
    { id: "c", sequence_index: 2 },
    { id: "a", sequence_index: 0 },
    { id: "b", sequence_index: 1 },
  ];

  it("sorts by sequence_index", () => {
    expect(sortSegments(segments).map((segment) => segment.id)).toEqual(["a", "b", "c"]);
  });

  it("moving swaps two neighbours with two PATCHes", () => {
    expect(moveChanges(segments, 1, 1)).toEqual([
      { segmentId: "c", sequenceIndex: 1 },
      { segmentId: "b", sequenceIndex: 2 },
    ]);
    expect(moveChanges(segments, 0, -1)).toEqual([]);
    expect(moveChanges(segments, 2, 1)).toEqual([]);
  });

  it("renumbering closes gaps and leaves segments in place alone", () => {
    expect(renumber([{ id: "a", sequence_index: 0 }, { id: "n", sequence_index: 9 }, { id: "b", sequence_index: 4 }])).toEqual([
      { segmentId: "n", sequenceIndex: 1 },
      { segmentId: "b", sequenceIndex: 2 },
    ]);
  });
});

describe("taskRefetchInterval", () => {
  const query = (status: "pending" | "success" | "error", data?: Partial<TaskStatusResponse>) =>
    ({ state: { status, data: data ? task(data) : undefined } }) as Parameters<typeof taskRefetchInterval>[0];

  it("polls every 2 s while the task runs or has not loaded", () => {
    expect(taskRefetchInterval(query("pending"))).toBe(2000);
    expect(taskRefetchInterval(query("success", { status: "PENDING" }))).toBe(2000);
    expect(taskRefetchInterval(query("success", { status: "PROCESSING" }))).toBe(2000);
  });

  it("stops on every terminal status and after an error", () => {
    for (const status of ["COMPLETED", "FAILED", "CANCELLED"] as const) {
      expect(taskRefetchInterval(query("success", { status }))).toBe(false);
    }
    expect(taskRefetchInterval(query("error", { status: "PROCESSING" }))).toBe(false);
  });
});

describe("formatting", () => {
  it("formats durations and ETAs", () => {
    expect(formatDuration(83.4)).toBe("1:23");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(null)).toBe("–");
    expect(formatEta(4)).toBe("about 4 s left");
    expect(formatEta(120)).toBe("about 2 min left");
    expect(formatEta(null)).toBeNull();
  });

  it("formats file sizes and counts", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2_400_000)).toBe("2.3 MB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50.0 MB");
    expect(formatBytes(null)).toBe("–");
    expect(countOf(1, "chapter")).toBe("1 chapter");
    expect(countOf(0, "chapter")).toBe("0 chapters");
    expect(countOf(2, "paragraph")).toBe("2 paragraphs");
  });
});

describe("parseRange", async () => {
  const { parseRange } = await import("@/lib/range");
  it("reads single byte ranges", () => {
    expect(parseRange("bytes=0-99", 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=500-", 1000)).toEqual({ start: 500, end: 999 });
    expect(parseRange("bytes=-100", 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange("bytes=900-5000", 1000)).toEqual({ start: 900, end: 999 });
  });
  it("whole body for no, malformed or multiple ranges; 416 past the end", () => {
    expect(parseRange(null, 1000)).toBeNull();
    expect(parseRange("bytes=0-1,5-6", 1000)).toBeNull();
    expect(parseRange("items=0-1", 1000)).toBeNull();
    expect(parseRange("bytes=5-2", 1000)).toBeNull();
    expect(parseRange("bytes=1000-", 1000)).toBe("unsatisfiable");
  });
});
