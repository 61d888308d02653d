/**
 * lib/api.ts for issue 8 (manuscript in, audiobook out): the multipart
 * import, project pacing, chapter marks, export start and its two 409s, and
 * the exports list / one export / delete; plus the import file checks.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import * as api from "@/lib/api";
import { fileExtension, importFileProblem } from "@/lib/importFile";
import { MAX_IMPORT_FILE_BYTES } from "@/lib/types";
import { jsonResponse } from "./helpers";

let fetchMock: ReturnType<typeof vi.fn>;

beforeEach(() => {
  fetchMock = vi.fn();
  vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => vi.unstubAllGlobals());

/** The url and RequestInit of fetch call `index`. */
function request(index = 0): { url: string; init: RequestInit } {
  const [url, init] = fetchMock.mock.calls[index] as [string, RequestInit];
  return { url, init };
}

const jsonBody = (index = 0) => JSON.parse(String(request(index).init.body));

describe("importStoryFile (multipart)", () => {
  const detail = { id: "p1", title: "Alice", segments: [], chapters: [] };

  it("POSTs the file and the title as multipart/form-data to /api/projects/import/", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(201, detail));
    const file = new File(["# One\n\nHello."], "book.md", { type: "text/markdown" });
    await expect(api.importStoryFile({ file, title: "  My book " })).resolves.toEqual(detail);

    const { url, init } = request();
    expect(url).toBe("/api/projects/import/");
    expect(init.method).toBe("POST");
    expect(init.body).toBeInstanceOf(FormData);
    const form = init.body as FormData;
    const sent = form.get("file") as File;
    expect(sent).toBeInstanceOf(File);
    expect(sent.name).toBe("book.md");
    expect(await sent.text()).toBe("# One\n\nHello.");
    expect(form.get("title")).toBe("My book");
    // The browser must set the multipart boundary itself: no JSON content type.
    const headers = init.headers as Record<string, string>;
    expect(headers["Content-Type"]).toBeUndefined();
    expect(headers.Accept).toBe("application/json");
  });

  it("leaves a blank title out, so the backend uses the book's own", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(201, detail));
    await api.importStoryFile({ file: new File(["x"], "alice.epub"), title: "   " });
    const form = request().init.body as FormData;
    expect(form.has("title")).toBe(false);
    expect([...form.keys()]).toEqual(["file"]);
  });

  it("rejects with the 400 body's error message", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(400, { error: "This is not an EPUB: the zip has no META-INF/container.xml." }));
    const error = await api.importStoryFile({ file: new File(["PK"], "broken.epub") }).catch((caught) => caught);
    expect(error).toBeInstanceOf(api.ApiError);
    expect(error.status).toBe(400);
    expect(error.message).toBe("This is not an EPUB: the zip has no META-INF/container.xml.");
  });

  it("the JSON import still sends JSON", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(201, detail));
    await api.importStory({ title: "T", text: "# One\n\nA." });
    expect((request().init.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
    expect(jsonBody()).toEqual({ title: "T", text: "# One\n\nA." });
  });
});

describe("project pacing and chapter marks", () => {
  it("updateProject PATCHes author and pauses", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, { id: "p" }));
    await api.updateProject("p", { author: "Lewis Carroll", paragraph_pause: 0.8, chapter_pause: 3, lead_in: 1, tail: 2.5 });
    expect(request().url).toBe("/api/projects/p/");
    expect(request().init.method).toBe("PATCH");
    expect(jsonBody()).toEqual({ author: "Lewis Carroll", paragraph_pause: 0.8, chapter_pause: 3, lead_in: 1, tail: 2.5 });
  });

  it("updateSegment marks a chapter start and unmarks it with null", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, { id: "s" }));
    await api.updateSegment("s", { chapter_title: "Chapter 2" });
    await api.updateSegment("s", { chapter_title: null });
    expect(request(0).url).toBe("/api/segments/s/");
    expect(jsonBody(0)).toEqual({ chapter_title: "Chapter 2" });
    expect(jsonBody(1)).toEqual({ chapter_title: null });
  });
});

describe("exportProject", () => {
  const accepted = { task_id: "export_p_1", project_id: "p", format: "m4b", status: "PENDING", message: "Export started" };

  it("POSTs {format, generate_missing: false} by default", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(202, accepted));
    await expect(api.exportProject("p", "m4b")).resolves.toEqual(accepted);
    expect(request().url).toBe("/api/projects/p/export/");
    expect(request().init.method).toBe("POST");
    expect(jsonBody()).toEqual({ format: "m4b", generate_missing: false });
  });

  it("passes the format and generate_missing through", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(202, { ...accepted, format: "acx" }));
    await api.exportProject("p", "acx", { generateMissing: true });
    expect(jsonBody()).toEqual({ format: "acx", generate_missing: true });
  });

  it("a 409 for missing audio lists the segments; it is not a running-task conflict", async () => {
    const missing = [
      { segment_id: "s2", sequence_index: 1 },
      { segment_id: "s5", sequence_index: 4 },
    ];
    fetchMock.mockImplementation(async () => jsonResponse(409, { error: "2 segments have no audio", segments_without_audio: missing }));
    const error = await api.exportProject("p", "m4b").catch((caught) => caught);
    expect(error.status).toBe(409);
    expect(error.message).toBe("2 segments have no audio");
    expect(api.segmentsWithoutAudioFromConflict(error)).toEqual(missing);
    expect(api.activeTaskIdFromConflict(error)).toBeNull();
  });

  it("a 409 while an export runs carries its task id and no segment list", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(409, { error: "An export is already running", task_id: "export_p_0" }));
    const error = await api.exportProject("p", "mp3").catch((caught) => caught);
    expect(api.activeTaskIdFromConflict(error)).toBe("export_p_0");
    expect(api.segmentsWithoutAudioFromConflict(error)).toBeNull();
    expect(api.segmentsWithoutAudioFromConflict(new Error("x"))).toBeNull();
  });

  it("a 400 (bad format, empty project) rejects with its message", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(400, { error: "The project has no segments." }));
    await expect(api.exportProject("p", "wav")).rejects.toMatchObject({ status: 400, message: "The project has no segments." });
  });
});

describe("exports", () => {
  const book = {
    id: "e1",
    project_id: "p",
    format: "m4b",
    url: "/media/projects/p/exports/e1.m4b",
    size_bytes: 123456,
    duration: 61.5,
    chapters: [{ title: "One", start: 0, end: 30 }],
    captions: { srt: "/media/projects/p/exports/e1.srt", vtt: "/media/projects/p/exports/e1.vtt" },
    created_at: "2026-05-01T10:00:00Z",
    task_id: "export_p_1",
    report: null,
  };

  it("listExports GETs /api/projects/{id}/exports/", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, [book]));
    await expect(api.listExports("p")).resolves.toEqual([book]);
    expect(request().url).toBe("/api/projects/p/exports/");
    expect(request().init.method).toBe("GET");
  });

  it("getExport GETs one export", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, book));
    await expect(api.getExport("p", "e1")).resolves.toEqual(book);
    expect(request().url).toBe("/api/projects/p/exports/e1/");
  });

  it("deleteExport DELETEs it and resolves on 204", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(204, undefined));
    await expect(api.deleteExport("p", "e1")).resolves.toBeUndefined();
    expect(request().url).toBe("/api/projects/p/exports/e1/");
    expect(request().init.method).toBe("DELETE");
    expect(request().init.body).toBeUndefined();
  });

  it("an unknown export is a 404", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(404, { error: "Export not found" }));
    await expect(api.getExport("p", "nope")).rejects.toMatchObject({ status: 404, message: "Export not found" });
  });
});

describe("import file checks", () => {
  it("reads extensions case-insensitively", () => {
    expect(fileExtension("Alice.EPUB")).toBe(".epub");
    expect(fileExtension("notes")).toBe("");
    expect(fileExtension("archive.tar.gz")).toBe(".gz");
  });

  it("accepts .txt, .md and .epub up to 50 MB", () => {
    expect(importFileProblem({ name: "a.txt", size: 10 })).toBeNull();
    expect(importFileProblem({ name: "a.md", size: 10 })).toBeNull();
    expect(importFileProblem({ name: "a.epub", size: MAX_IMPORT_FILE_BYTES })).toBeNull();
  });

  it("names the problem otherwise", () => {
    expect(importFileProblem({ name: "a.pdf", size: 10 })).toBe("a.pdf: only .txt, .md, .epub files can be imported.");
    expect(importFileProblem({ name: "a.epub", size: 0 })).toBe("a.epub is empty.");
    expect(importFileProblem({ name: "big.epub", size: MAX_IMPORT_FILE_BYTES + 5 * 1024 * 1024 })).toMatch(/^big\.epub is 55\.0 MB; the largest file that can be imported is 50\.0 MB\.$/);
  });
});
