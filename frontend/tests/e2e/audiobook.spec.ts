/**
 * Manuscript in, audiobook out (issue 8), in Debian's Chromium against the
 * real backend and model: upload a Markdown file with two `#` chapters,
 * export an M4B (the 409 for missing audio offers "generate missing audio"),
 * follow the export's progress to the end, and find the download links, the
 * past export and the whole-book player with its two chapters. Screenshots go
 * to test-artifacts/.
 */
import path from "node:path";

import { ARTIFACTS, audioDuration, expect, generateAllViaApi, segmentCards, serverSegments, test } from "./fixtures";

const MARKDOWN = [
  "# The Lamp",
  "",
  "The lamp was lit at dusk.",
  "",
  "A moth circled it twice.",
  "",
  "# The Night",
  "",
  "Then the night went quiet.",
  "",
  "The moth slept on the sill.",
  "",
].join("\n");

test("import a Markdown book, export an M4B with generated audio, see its download link and chapter list", async ({ page, request }) => {
  test.setTimeout(300_000);

  // ---- import the .md file through the form (multipart upload)
  await page.goto("/");
  const form = page.getByRole("region", { name: "Import a story" });
  await form.getByLabel(/choose a file/).setInputFiles({
    name: "two-chapters.md",
    mimeType: "text/markdown",
    buffer: Buffer.from(MARKDOWN, "utf8"),
  });
  await expect(form.getByTestId("import-file")).toContainText("two-chapters.md");
  await expect(form.getByLabel("Story text")).toHaveCount(0);
  await form.getByLabel(/^Title/).fill("Two chapters");
  await form.getByRole("button", { name: "Import" }).click();

  await expect(page).toHaveURL(/\/projects\/[0-9a-f-]{36}$/);
  const projectId = page.url().split("/").pop()!;
  await expect(page.getByTestId("project-title")).toHaveText("Two chapters");

  // Headings are narrated segments that start chapters.
  const cards = segmentCards(page);
  await expect(cards).toHaveCount(6);
  await expect(cards.nth(1).getByRole("textbox")).toHaveValue("The lamp was lit at dusk.");
  const headers = page.getByTestId("chapter-header");
  await expect(headers).toHaveCount(2);
  await expect(headers.getByTestId("chapter-title")).toHaveText(["The Lamp", "The Night"]);
  await expect(cards.nth(3)).toHaveAttribute("data-chapter-start", "true");
  const chapterList = page.getByTestId("chapter-list");
  await expect(chapterList.getByRole("listitem")).toHaveCount(2);
  await expect(chapterList.locator(".chapter-jump")).toHaveText(["The Lamp", "The Night"]);
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-audiobook-imported.png"), fullPage: true });

  // ---- export without audio: the 409 lists the missing segments and offers to generate them
  const panel = page.getByTestId("export-panel");
  await expect(panel.getByRole("radio", { name: /^M4B/ })).toBeChecked();
  await expect(panel.getByRole("checkbox", { name: "Generate missing audio" })).not.toBeChecked();
  await panel.getByRole("button", { name: "Export", exact: true }).click();
  const missing = page.getByTestId("export-missing");
  await expect(missing).toContainText("6 segments have no audio yet");
  await missing.getByRole("button", { name: "Export with generate missing audio" }).click();

  // ---- the export task: the shared progress panel, through to the end
  const progress = page.getByTestId("export-progress");
  await expect(progress).toBeVisible();
  await expect(progress).toHaveAttribute("data-status", /PENDING|PROCESSING|COMPLETED/);
  await expect(panel.getByRole("checkbox", { name: "Generate missing audio" })).toBeChecked();
  await expect(progress).toHaveAttribute("data-status", "COMPLETED", { timeout: 240_000 });
  await expect(progress.getByTestId("progress-title")).toHaveText("Export finished");
  await expect(progress.getByTestId("progress-percent")).toHaveText("100 %");

  // ---- the download links of the finished export, and the file behind them
  const result = page.getByTestId("export-result");
  const download = result.getByTestId("export-download");
  await expect(download).toHaveText("Download M4B");
  const href = await download.getAttribute("href");
  expect(href).toMatch(new RegExp(`^/media/projects/${projectId}/exports/[^/]+\\.m4b$`));
  const file = await request.get(href!);
  expect(file.status()).toBe(200);
  expect((await file.body()).length).toBeGreaterThan(1000);
  await expect(result.getByTestId("export-srt")).toHaveAttribute("href", /\.srt$/);
  await expect(result.getByTestId("export-vtt")).toHaveAttribute("href", /\.vtt$/);
  const srt = await request.get((await result.getByTestId("export-srt").getAttribute("href"))!);
  expect(await srt.text()).toContain("The lamp was lit at dusk.");

  // ---- past exports: this M4B
  const rows = page.getByTestId("export-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-format", "m4b");
  await expect(rows.first().getByTestId("export-download")).toHaveAttribute("href", href!);

  // ---- the whole-book player: two chapters with the right titles; a click seeks to the second
  const player = page.getByTestId("book-player");
  const audio = player.getByTestId("book-audio");
  await expect(audio).toHaveAttribute("src", href!);
  const bookChapters = player.getByTestId("book-chapter");
  await expect(bookChapters).toHaveCount(2);
  await expect(bookChapters.locator(".chapter-seek-title")).toHaveText(["The Lamp", "The Night"]);
  const exported = (await (await request.get(`/api/projects/${projectId}/exports/`)).json())[0];
  expect(exported.chapters.map((chapter: { title: string }) => chapter.title)).toEqual(["The Lamp", "The Night"]);
  const duration = await audioDuration(audio);
  expect(Math.abs(duration - exported.duration)).toBeLessThan(0.2);
  const secondStart: number = exported.chapters[1].start;
  expect(secondStart).toBeGreaterThan(0);
  await bookChapters.nth(1).click();
  await expect
    .poll(() => audio.evaluate((element: HTMLAudioElement) => element.currentTime), { timeout: 10_000 })
    .toBeGreaterThanOrEqual(secondStart - 0.05);
  await expect(player.locator("li").nth(1)).toHaveAttribute("aria-current", "true");
  await audio.evaluate((element: HTMLAudioElement) => element.pause());

  // The export generated every segment's audio, and the timeline shows it.
  await expect(page.getByTestId("segment-audio")).toHaveCount(6);
  const segments = await serverSegments(request, projectId);
  expect(segments.every((segment) => segment.audio_file)).toBe(true);
  await page.getByTestId("book-player").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-audiobook-exported.png"), fullPage: true });
});

test("chapters, pacing, paced Play all and the sentence highlight in the timeline", async ({ page, request }) => {
  // JSON import: "# x" headings start chapters here too.
  const created = await request.post("/api/projects/import/", {
    data: {
      title: "Editing chapters",
      text: "# Morning\n\nThe sun rose over the hill. Birds began to sing.\n\nThe baker opened his shop.\n\n# Evening\n\nThe lamps were lit one by one.",
    },
  });
  expect(created.status()).toBe(201);
  const { id: projectId } = await created.json();
  await generateAllViaApi(request, projectId);
  await page.goto(`/projects/${projectId}`);
  const cards = segmentCards(page);
  await expect(cards).toHaveCount(5);

  // ---- rename a chapter, mark a new chapter start, remove it again
  const firstHeader = cards.nth(0).getByTestId("chapter-header");
  await firstHeader.getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("Chapter title of segment 1").fill("Dawn");
  await firstHeader.getByRole("button", { name: "Rename" }).click();
  await expect(firstHeader.getByTestId("chapter-title")).toHaveText("Dawn");
  await expect(page.getByTestId("chapter-list").locator(".chapter-jump")).toHaveText(["Dawn", "Evening"]);

  await cards.nth(2).getByRole("button", { name: "Start chapter" }).click();
  await page.getByLabel("Chapter title of segment 3").fill("The Shop");
  await cards.nth(2).getByRole("button", { name: "Start chapter" }).click();
  await expect(cards.nth(2).getByTestId("chapter-title")).toHaveText("The Shop");
  await expect(page.getByTestId("chapter-list").locator(".chapter-jump")).toHaveText(["Dawn", "The Shop", "Evening"]);
  await expect(cards.nth(3).getByTestId("chapter-header")).toContainText("Chapter 3");
  let detail = await (await request.get(`/api/projects/${projectId}/`)).json();
  expect(detail.chapters.map((chapter: { title: string }) => chapter.title)).toEqual(["Dawn", "The Shop", "Evening"]);

  await cards.nth(2).getByRole("button", { name: "Remove chapter" }).click();
  await expect(cards.nth(2).getByTestId("chapter-header")).toHaveCount(0);
  await expect(page.getByTestId("chapter-list").locator(".chapter-jump")).toHaveText(["Dawn", "Evening"]);
  detail = await (await request.get(`/api/projects/${projectId}/`)).json();
  expect(detail.segments[2].chapter_title).toBeNull();

  // The chapter list jumps to the chapter's first segment.
  await page.getByTestId("chapter-list").getByRole("button", { name: "Evening", exact: true }).click();
  await expect(cards.nth(3)).toBeFocused();

  // ---- pacing: author and pauses, saved with the project
  const pacing = page.getByRole("region", { name: "Book & pacing" });
  await expect(pacing.getByText("default 0.6 s")).toBeVisible();
  await pacing.getByLabel("Author").fill("A. Narrator");
  await pacing.getByLabel("Paragraph pause in seconds").fill("0.3");
  await pacing.getByLabel("Chapter pause in seconds").fill("1.5");
  await pacing.getByLabel("Lead-in in seconds").fill("0.5");
  await pacing.getByLabel("Tail in seconds").fill("0.4");
  await pacing.getByRole("button", { name: "Save" }).click();
  await expect(pacing.getByRole("status")).toHaveText("Saved.");
  await expect(page.getByTestId("project-author")).toHaveText("by A. Narrator");
  detail = await (await request.get(`/api/projects/${projectId}/`)).json();
  expect([detail.author, detail.paragraph_pause, detail.chapter_pause, detail.lead_in, detail.tail]).toEqual(["A. Narrator", 0.3, 1.5, 0.5, 0.4]);

  // ---- Play all: lead-in, then the segments with the project's pauses, a chapter pause before "Evening"
  await page.getByRole("button", { name: "Play all" }).click();
  await expect(page.getByTestId("play-pause")).toHaveText("Lead-in (0.50 s) before segment 1 of 5");
  await expect(page.getByTestId("now-playing")).toHaveText("Playing segment 1 of 5");
  await expect(page.getByTestId("now-playing")).toHaveText("Playing segment 2 of 5", { timeout: 15_000 });

  // The sentence being spoken is highlighted in segment 2 (two sentences, in order).
  const reading = cards.nth(1).getByTestId("segment-reading");
  await expect(reading).toBeVisible();
  await expect(reading.getByTestId("cue-highlight")).toHaveText("The sun rose over the hill.", { timeout: 5_000 });
  await expect(reading.getByTestId("cue-highlight")).toHaveText("Birds began to sing.", { timeout: 10_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-sentence-highlight.png") });

  await expect(page.getByTestId("play-pause")).toHaveText("Chapter pause (1.50 s) before segment 4 of 5", { timeout: 20_000 });
  await expect(page.getByTestId("now-playing")).toHaveText("Playing segment 5 of 5", { timeout: 20_000 });
  await expect(page.getByTestId("play-pause")).toHaveText("Tail: 0.40 s of silence", { timeout: 15_000 });
  await expect(page.getByRole("button", { name: "Play all" })).toBeVisible({ timeout: 5_000 });
  // Playing stopped: the text is editable again.
  await expect(cards.nth(1).getByRole("textbox")).toHaveValue("The sun rose over the hill. Birds began to sing.");
});

test("a broken EPUB upload shows the backend's message and creates nothing", async ({ page, request }) => {
  const before = (await (await request.get("/api/projects/")).json()).length;
  await page.goto("/");
  const form = page.getByRole("region", { name: "Import a story" });
  await form.getByLabel(/choose a file/).setInputFiles({
    name: "broken.epub",
    mimeType: "application/epub+zip",
    buffer: Buffer.from("this is not a zip archive at all", "utf8"),
  });
  await form.getByRole("button", { name: "Import" }).click();
  const error = form.getByTestId("import-error");
  await expect(error).toBeVisible();
  await expect(error).toContainText(/epub/i);
  await expect(page).toHaveURL(/\/$/);
  expect((await (await request.get("/api/projects/")).json()).length).toBe(before);

  // A type the import does not take is refused before uploading.
  await form.getByLabel(/File/).setInputFiles({ name: "notes.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4") });
  await expect(form.getByRole("alert").first()).toHaveText("notes.pdf: only .txt, .md, .epub files can be imported.");
  await expect(form.getByRole("button", { name: "Import" })).toBeDisabled();
});

test("an ACX export lists its per-file report; deleting an export removes it", async ({ page, request }) => {
  test.setTimeout(300_000);
  const created = await request.post("/api/projects/import/", {
    data: { title: "ACX check", text: "# One\n\nA short first chapter.\n\n# Two\n\nA short second chapter." },
  });
  expect(created.status()).toBe(201);
  const { id: projectId } = await created.json();
  await page.goto(`/projects/${projectId}`);

  const panel = page.getByTestId("export-panel");
  await panel.getByRole("radio", { name: /^ACX/ }).check();
  await panel.getByRole("checkbox", { name: "Generate missing audio" }).check();
  await panel.getByRole("button", { name: "Export", exact: true }).click();
  const progress = page.getByTestId("export-progress");
  await expect(progress).toHaveAttribute("data-status", "COMPLETED", { timeout: 240_000 });
  await expect(page.getByTestId("export-result").getByTestId("export-download")).toHaveText("Download ACX zip");

  const row = page.getByTestId("export-row").first();
  await expect(row).toHaveAttribute("data-format", "acx");
  const report = row.getByTestId("acx-report");
  await report.locator("summary").click();
  const files = report.getByTestId("acx-file");
  await expect(files).toHaveCount(2);
  const exported = (await (await request.get(`/api/projects/${projectId}/exports/`)).json())[0];
  const verdicts = exported.report.files.map((file: { passed: boolean }) => String(file.passed));
  await expect(files).toHaveText([/01 - One\.mp3/, /02 - Two\.mp3/]);
  for (const [index, verdict] of verdicts.entries()) await expect(files.nth(index)).toHaveAttribute("data-passed", verdict);
  await expect(report.getByTestId("acx-verdict")).toHaveText(exported.report.passed ? "passed" : "failed");
  // A zip is not playable: no book player for it.
  await expect(page.getByTestId("book-player")).toHaveCount(0);
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-acx-report.png"), fullPage: true });

  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: "Yes, delete" }).click();
  await expect(page.getByTestId("export-row")).toHaveCount(0);
  expect(await (await request.get(`/api/projects/${projectId}/exports/`)).json()).toEqual([]);
  expect((await request.get(exported.url)).status()).toBe(404);
});
