/**
 * The Export panel in each state, against a mocked API: ready to export,
 * a 409 listing segments without audio (and the offer to generate them), a
 * 409 for an export already running, a running export's progress and
 * Cancel, a finished export's links and book player, past exports with the
 * ACX report and Delete. Also the ACX report's wording and the pacing form's
 * PATCH body.
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { chapterAt } from "@/components/BookPlayer";
import { suggestChapterTitle } from "@/components/ChapterHeader";
import { AcxReportView, downloadName } from "@/components/ExportList";
import { ExportPanel } from "@/components/ExportPanel";
import { pacingChanges } from "@/components/PacingForm";
import { describeCheck } from "@/lib/acx";
import type { AcxCheck, AcxFileReport, AcxReport, AudiobookExport, Project, TaskStatusResponse } from "@/lib/types";
import { jsonResponse, taskStatus } from "./helpers";

type Handler = (init: RequestInit) => Response | Promise<Response>;
let routes: Record<string, Handler>;
let fetchMock: ReturnType<typeof vi.fn>;


beforeEach(() => {
  routes = { "GET /api/projects/p/exports/": () => jsonResponse(200, []) };
  fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${url}`;
    const handler = routes[key];
    return handler ? handler(init) : jsonResponse(404, { error: `no route for ${key}` });
  });
  vi.stubGlobal("fetch", fetchMock);
  vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(async () => undefined);
  vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => undefined);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const calls = (key: string) =>
  fetchMock.mock.calls.filter(([url, init]) => `${(init as RequestInit | undefined)?.method ?? "GET"} ${url}` === key);
const bodyOf = (call: unknown[]) => JSON.parse(String((call[1] as RequestInit).body));

const segments = [
  { id: "s1", audio_file: "/media/s1.wav", text_content: "# One" },
  { id: "s2", audio_file: null, text_content: "Two." },
  { id: "s3", audio_file: null, text_content: "Three." },
];

const status = (extra: Partial<TaskStatusResponse>) => taskStatus({ task_id: "export_p_1", kind: "export", ...extra });

const book = (extra: Partial<AudiobookExport> = {}): AudiobookExport => ({
  id: "e1",
  project_id: "p",
  format: "m4b",
  url: "/media/projects/p/exports/e1.m4b",
  size_bytes: 2_500_000,
  duration: 75,
  chapters: [
    { title: "One", start: 0, end: 30.5 },
    { title: "Two", start: 30.5, end: 75 },
  ],
  captions: { srt: "/media/projects/p/exports/e1.srt", vtt: "/media/projects/p/exports/e1.vtt" },
  created_at: "2026-05-01T10:00:00Z",
  task_id: "export_p_1",
  report: null,
  ...extra,
});

/** One ACX check, as `_check` in backend/audiobook/acx.py writes it. */
const acxCheck = (value: AcxCheck["value"], unit: string, requirement: string, passed: boolean): AcxCheck => ({
  value,
  unit,
  requirement,
  passed,
});
const sampleRateOk = acxCheck(44100, "Hz", "44100 Hz", true);

/** A report as `build_report` writes it: passed when every file passed. */
const acxReport = (files: AcxFileReport[]): AcxReport => ({
  standard: "ACX Audio Submission Requirements",
  measured_on: "the MP3 files in this zip",
  passed: files.length > 0 && files.every((file) => file.passed),
  requirements: { sample_rate_hz: 44100 },
  files,
});

/** The panel with the task id held like the timeline holds it. */
function renderPanel(initialTaskId: string | null = null) {
  const started: [string, string[]][] = [];
  function Harness() {
    const [taskId, setTaskId] = useState(initialTaskId);
    return (
      <ExportPanel
        projectId="p"
        title="My Book: Part 1"
        segments={segments}
        taskId={taskId}
        onStarted={(id, expected) => {
          started.push([id, expected]);
          setTaskId(id);
        }}
        onDismiss={() => setTaskId(null)}
      />
    );
  }
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <Harness />
    </QueryClientProvider>,
  );
  return { started };
}

describe("ExportPanel", () => {
  it("before exporting: four formats (M4B chosen), generate missing off, the missing count, no exports", async () => {
    renderPanel();
    const radios = screen.getAllByRole("radio") as HTMLInputElement[];
    expect(radios.map((radio) => radio.value)).toEqual(["m4b", "mp3", "wav", "acx"]);
    expect(radios.filter((radio) => radio.checked).map((radio) => radio.value)).toEqual(["m4b"]);
    expect((screen.getByRole("checkbox", { name: "Generate missing audio" }) as HTMLInputElement).checked).toBe(false);
    expect(screen.getByTestId("export-missing-hint").textContent).toBe("2 segments have no audio yet.");
    expect(await screen.findByText("No exports yet.")).toBeTruthy();
    expect(screen.queryByTestId("export-progress")).toBeNull();
  });

  it("sends the chosen format and option", async () => {
    routes["POST /api/projects/p/export/"] = () => jsonResponse(202, { task_id: "export_p_1", project_id: "p", format: "mp3", status: "PENDING", message: "" });
    routes["GET /api/tasks/export_p_1/status/"] = () => jsonResponse(200, status({ status: "PENDING" }));
    const { started } = renderPanel();
    fireEvent.click(screen.getByRole("radio", { name: /^MP3/ }));
    fireEvent.click(screen.getByRole("checkbox", { name: "Generate missing audio" }));
    fireEvent.click(screen.getByRole("button", { name: "Export" }));
    await waitFor(() => expect(started).toEqual([["export_p_1", ["s2", "s3"]]]));
    expect(bodyOf(calls("POST /api/projects/p/export/")[0])).toEqual({ format: "mp3", generate_missing: true });
    expect(await screen.findByTestId("export-progress")).toBeTruthy();
    expect(screen.getByTestId("progress-title").textContent).toBe("Export queued");
  });

  it("a 409 listing segments without audio: says how many, and exporting with generate missing starts the task", async () => {
    let attempt = 0;
    routes["POST /api/projects/p/export/"] = () =>
      attempt++ === 0
        ? jsonResponse(409, {
            error: "2 segments have no audio",
            segments_without_audio: [
              { segment_id: "s3", sequence_index: 2 },
              { segment_id: "s2", sequence_index: 1 },
            ],
          })
        : jsonResponse(202, { task_id: "export_p_2", project_id: "p", format: "m4b", status: "PENDING", message: "" });
    routes["GET /api/tasks/export_p_2/status/"] = () => jsonResponse(200, status({ task_id: "export_p_2", status: "PENDING" }));
    const { started } = renderPanel();

    fireEvent.click(screen.getByRole("button", { name: "Export" }));
    const alert = await screen.findByTestId("export-missing");
    expect(alert.textContent).toContain("2 segments have no audio yet (segments 2, 3)");
    expect(started).toEqual([]);
    expect(screen.queryByTestId("export-progress")).toBeNull();

    fireEvent.click(within(alert).getByRole("button", { name: "Export with generate missing audio" }));
    await waitFor(() => expect(started).toEqual([["export_p_2", ["s2", "s3"]]]));
    const posts = calls("POST /api/projects/p/export/");
    expect(posts.map(bodyOf)).toEqual([
      { format: "m4b", generate_missing: false },
      { format: "m4b", generate_missing: true },
    ]);
    expect((screen.getByRole("checkbox", { name: "Generate missing audio" }) as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(screen.queryByTestId("export-missing")).toBeNull());
  });

  it("a 409 because an export is running follows that export", async () => {
    routes["POST /api/projects/p/export/"] = () => jsonResponse(409, { error: "An export is already running", task_id: "export_p_0" });
    routes["GET /api/tasks/export_p_0/status/"] = () => jsonResponse(200, status({ task_id: "export_p_0", stage: "encoding" }));
    const { started } = renderPanel();
    fireEvent.click(screen.getByRole("button", { name: "Export" }));
    await waitFor(() => expect(started).toEqual([["export_p_0", []]]));
    expect(await screen.findByText(/already running/)).toBeTruthy();
    expect((await screen.findByTestId("export-progress")).dataset.status).toBe("PROCESSING");
  });

  it("another error is shown as it is", async () => {
    routes["POST /api/projects/p/export/"] = () => jsonResponse(400, { error: "The project has no segments." });
    renderPanel();
    fireEvent.click(screen.getByRole("button", { name: "Export" }));
    expect((await screen.findByTestId("export-error")).textContent).toBe("Could not start the export: The project has no segments.");
  });

  it("running: stage, step, %, ETA and Cancel in the shared progress panel; Export waits", async () => {
    routes["GET /api/tasks/export_p_1/status/"] = () =>
      jsonResponse(200, status({ stage: "encoding", current_step: "Encoding 40 of 75 s of audio", overall_progress: 61.6, eta_seconds: 12, elapsed_seconds: 20 }));
    routes["POST /api/tasks/export_p_1/cancel/"] = () => jsonResponse(202, status({ stage: "encoding" }));
    renderPanel("export_p_1");
    const panel = await screen.findByTestId("export-progress");
    await waitFor(() => expect(panel.dataset.status).toBe("PROCESSING"));
    expect(panel.dataset.stage).toBe("encoding");
    expect(within(panel).getByTestId("progress-title").textContent).toBe("Exporting");
    expect(within(panel).getByTestId("progress-step").textContent).toBe("Encoding the audiobook…");
    expect(within(panel).getByTestId("progress-detail").textContent).toBe("Encoding 40 of 75 s of audio");
    expect(within(panel).getByTestId("progress-percent").textContent).toBe("62 %");
    expect(within(panel).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("62");
    expect(within(panel).getByTestId("progress-eta").textContent).toBe("about 12 s left");
    expect(within(panel).getByTestId("progress-counts").textContent).toBe("about 12 s left · 0:20 elapsed");
    expect((screen.getByRole("button", { name: "Export" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(within(panel).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(calls("POST /api/tasks/export_p_1/cancel/")).toHaveLength(1));
    expect(within(panel).getByTestId("progress-step").textContent).toBe("Cancelling the export…");
  });

  it("generating missing audio: counts the segments", async () => {
    routes["GET /api/tasks/export_p_1/status/"] = () =>
      jsonResponse(200, status({ stage: "synthesizing", progress: { current: 2, total: 2, percentage: 20 }, completed_segments: [{ segment_id: "s2", audio_url: "/media/s2.wav", duration: 1 }] }));
    renderPanel("export_p_1");
    const panel = await screen.findByTestId("export-progress");
    await waitFor(() => expect(within(panel).getByTestId("progress-step").textContent).toBe("Generating the missing audio…"));
    expect(within(panel).getByTestId("progress-counts").textContent).toBe("1 of 2 segments generated");
    expect(within(panel).getByTestId("progress-percent").textContent).toBe("20 %");
  });

  it("cancelled and failed: the panel says so, with the task's error", async () => {
    routes["GET /api/tasks/export_p_1/status/"] = () =>
      jsonResponse(200, status({ status: "FAILED", stage: "encoding", errors: [{ segment_id: null, error: "Disk full" }] }));
    renderPanel("export_p_1");
    const panel = await screen.findByTestId("export-progress");
    await waitFor(() => expect(panel.dataset.status).toBe("FAILED"));
    expect(within(panel).getByTestId("progress-title").textContent).toBe("Export failed");
    expect(within(panel).getByTestId("progress-errors").textContent).toBe("Task: Disk full");
    expect(within(panel).queryByRole("button", { name: "Cancel" })).toBeNull();
    fireEvent.click(within(panel).getByRole("button", { name: "Dismiss" }));
    await waitFor(() => expect(screen.queryByTestId("export-progress")).toBeNull());
  });

  it("completed: download links for the book and captions, and the book player with its chapters", async () => {
    routes["GET /api/tasks/export_p_1/status/"] = () =>
      jsonResponse(200, status({ status: "COMPLETED", stage: "finished", result: { export_id: "e1", url: "/media/projects/p/exports/e1.m4b" } }));
    routes["GET /api/projects/p/exports/e1/"] = () => jsonResponse(200, book());
    routes["GET /api/projects/p/exports/"] = () => jsonResponse(200, [book()]);
    renderPanel("export_p_1");

    const result = await screen.findByTestId("export-result");
    await waitFor(() => expect(within(result).getByTestId("export-download").getAttribute("href")).toBe("/media/projects/p/exports/e1.m4b"));
    expect(within(result).getByTestId("export-download").textContent).toBe("Download M4B");
    expect(within(result).getByTestId("export-download").getAttribute("download")).toBe("My Book Part 1.m4b");
    expect(within(result).getByTestId("export-srt").getAttribute("href")).toBe("/media/projects/p/exports/e1.srt");
    expect(within(result).getByTestId("export-vtt").getAttribute("href")).toBe("/media/projects/p/exports/e1.vtt");
    expect(result.textContent).toContain("1:15");
    expect(result.textContent).toContain("2.4 MB");
    expect(result.textContent).toContain("2 chapters");
    expect(screen.getByTestId("export-progress").dataset.status).toBe("COMPLETED");
    expect(screen.getByTestId("progress-percent").textContent).toBe("100 %");

    const player = screen.getByTestId("book-player");
    const audio = within(player).getByTestId("book-audio") as HTMLAudioElement;
    expect(audio.getAttribute("src")).toBe("/media/projects/p/exports/e1.m4b");
    const chapters = within(player).getAllByTestId("book-chapter");
    expect(chapters.map((chapter) => chapter.textContent)).toEqual(["One0:00", "Two0:31"]);
    fireEvent.click(chapters[1]);
    expect(audio.currentTime).toBe(30.5);
    expect(HTMLMediaElement.prototype.play).toHaveBeenCalled();
    expect(within(player).getAllByRole("listitem")[1].getAttribute("aria-current")).toBe("true");
  });

  it("past exports: format, duration, size, links, the ACX verdict per file, Listen and Delete", async () => {
    const acx = book({
      id: "e2",
      format: "acx",
      url: "/media/projects/p/exports/e2.zip",
      captions: { srt: "/media/projects/p/exports/e2.srt", vtt: null },
      report: acxReport([
        {
          file: "01 - One.mp3",
          duration: 31.2,
          passed: true,
          checks: { sample_rate: sampleRateOk, peak: acxCheck(-3.5, "dBFS", "<= -3 dB", true) },
        },
        {
          file: "02 - Two.mp3",
          duration: 44.1,
          passed: false,
          checks: { sample_rate: sampleRateOk, rms: acxCheck(-25.31, "dB", "-23 to -18 dB", false) },
        },
      ]),
    });
    const mp3 = book({ id: "e3", format: "mp3", url: "/media/projects/p/exports/e3.mp3" });
    let stored = [acx, mp3];
    routes["GET /api/projects/p/exports/"] = () => jsonResponse(200, stored);
    routes["DELETE /api/projects/p/exports/e2/"] = () => {
      stored = [mp3];
      return jsonResponse(204);
    };
    renderPanel();

    const rows = await screen.findAllByTestId("export-row");
    expect(rows.map((row) => row.dataset.format)).toEqual(["acx", "mp3"]);
    expect(rows[0].textContent).toContain("ACX");
    expect(rows[0].textContent).toContain("1:15 · 2.4 MB · 2 chapters");
    expect(within(rows[0]).getByTestId("export-download").textContent).toBe("Download ACX zip");
    expect(within(rows[0]).queryByTestId("export-vtt")).toBeNull();
    expect(within(rows[0]).queryByRole("button", { name: "Listen" })).toBeNull(); // a zip cannot be played
    expect(within(rows[0]).getByTestId("acx-verdict").textContent).toBe("failed");
    const files = within(rows[0]).getAllByTestId("acx-file");
    expect(files.map((file) => file.dataset.passed)).toEqual(["true", "false"]);
    expect(files[0].textContent).toBe("✓ 01 - One.mp3");
    expect(files[1].textContent).toBe("✗ 02 - Two.mp3 — failed: rms -25.31 dB (needs -23 to -18 dB)");
    expect(within(rows[0]).getByTestId("acx-report").textContent).toContain("(1 of 2 files pass)");

    // The player shows the newest playable export.
    expect(screen.getByTestId("book-player").dataset.exportId).toBe("e3");

    fireEvent.click(within(rows[0]).getByRole("button", { name: "Delete" }));
    fireEvent.click(within(rows[0]).getByRole("button", { name: "Yes, delete" }));
    await waitFor(() => expect(calls("DELETE /api/projects/p/exports/e2/")).toHaveLength(1));
    await waitFor(() => expect(screen.getAllByTestId("export-row").map((row) => row.dataset.format)).toEqual(["mp3"]));
  });
});

describe("ACX report view", () => {
  it("a check in words: the value with its unit (two decimals), and what it needs", () => {
    expect(describeCheck("rms", acxCheck(-25.314, "dB", "-23 to -18 dB", false))).toBe("rms -25.31 dB (needs -23 to -18 dB)");
    expect(describeCheck("sample_rate", acxCheck(44100, "Hz", "44100 Hz", true))).toBe("sample rate 44100 Hz (needs 44100 Hz)");
    expect(describeCheck("constant_bit_rate", acxCheck("VBR", "", "CBR", false))).toBe("constant bit rate VBR (needs CBR)");
    // The RMS of silence is not finite: the backend writes null.
    expect(describeCheck("rms", acxCheck(null, "dB", "-23 to -18 dB", false))).toBe("rms (needs -23 to -18 dB)");
  });

  it("a file that could not be decoded fails with its error", () => {
    render(
      <AcxReportView
        report={acxReport([{ file: "01 - One.mp3", duration: null, passed: false, error: "cannot decode: EOF", checks: {} }])}
      />,
    );
    expect(screen.getByTestId("acx-verdict").textContent).toBe("failed");
    expect(screen.getByTestId("acx-file").textContent).toBe("✗ 01 - One.mp3 — cannot decode: EOF");
  });

  it("nothing without a report", () => {
    const { container } = render(<AcxReportView report={null} />);
    expect(container.innerHTML).toBe("");
  });
});

describe("small helpers", () => {
  it("chapterAt: the last chapter starting at or before the time", () => {
    const chapters = [{ start: 0 }, { start: 30.5 }, { start: 60 }];
    expect(chapterAt(chapters, 0)).toBe(0);
    expect(chapterAt(chapters, 30.49)).toBe(0);
    expect(chapterAt(chapters, 30.5)).toBe(1);
    expect(chapterAt(chapters, 99)).toBe(2);
  });

  it("downloadName: a safe title with the served file's extension", () => {
    expect(downloadName('A/B: "C"?', "/media/x/e.m4b", "m4b")).toBe("A B C.m4b");
    expect(downloadName("", "/media/x/e.srt?v=2", "srt")).toBe("audiobook.srt");
    expect(downloadName("Book", null, "vtt")).toBe("Book.vtt");
  });

  it("suggestChapterTitle: a heading-like text, else Chapter n", () => {
    expect(suggestChapterTitle("# The Pool of Tears", 2)).toBe("The Pool of Tears");
    expect(suggestChapterTitle("A long paragraph. ".repeat(10), 3)).toBe("Chapter 3");
    expect(suggestChapterTitle("", 1)).toBe("Chapter 1");
  });

  it("pacingChanges: only the changed fields, and a message for a pause out of range", () => {
    const project = { author: "", paragraph_pause: 0.6, chapter_pause: 2, lead_in: 0.75, tail: 2 } as Project;
    const draft = { author: " Lewis Carroll ", paragraph_pause: "0.6", chapter_pause: "3.5", lead_in: "0.75", tail: "2" };
    expect(pacingChanges(project, draft)).toEqual({ changes: { author: "Lewis Carroll", chapter_pause: 3.5 } });
    expect(pacingChanges(project, { ...draft, tail: "11" })).toEqual({ problem: "Tail must be a number of seconds from 0 to 10." });
    expect(pacingChanges(project, { ...draft, lead_in: "" })).toEqual({ problem: "Lead-in must be a number of seconds from 0 to 10." });
  });
});
