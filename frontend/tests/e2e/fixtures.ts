/**
 * Shared pieces of the browser tests: the `test` object (base URL from the
 * global setup, a full-page screenshot of every test into test-artifacts/),
 * stories made through the API, and reading `<audio>` durations in the page.
 */
import { expect, test as base, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import path from "node:path";

export const ARTIFACTS = path.resolve(__dirname, "..", "..", "..", "test-artifacts");

export const test = base.extend({
  baseURL: async ({}, use) => {
    const url = process.env.E2E_BASE_URL;
    if (!url) throw new Error("E2E_BASE_URL is not set: the global setup did not run.");
    await use(url);
  },
});

test.afterEach(async ({ page }, testInfo) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const slug = testInfo.title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  const file = path.join(ARTIFACTS, `e2e-${slug}${testInfo.status === "passed" ? "" : "-FAILED"}.png`);
  await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
});

export { expect };

/** A segment as the API returns it. */
export interface ApiSegment {
  id: string;
  sequence_index: number;
  text_content: string;
  is_locked: boolean;
  audio_file: string | null;
  audio_duration: number | null;
  /** Issue 9: the segment's own voice and speed (null = the project's), and whether its audio is out of date. */
  voice?: string | null;
  speed?: number | null;
  audio_stale?: boolean;
}

/** Import a story through the API; returns the project id and its segments in order. */
export async function importStory(
  request: APIRequestContext,
  title: string,
  paragraphs: string[],
): Promise<{ id: string; segments: ApiSegment[] }> {
  const response = await request.post("/api/projects/import/", { data: { title, text: paragraphs.join("\n\n") } });
  expect(response.status()).toBe(201);
  return response.json();
}

/** The project's segments as the server has them now. */
export async function serverSegments(request: APIRequestContext, projectId: string): Promise<ApiSegment[]> {
  const response = await request.get(`/api/projects/${projectId}/`);
  expect(response.ok()).toBeTruthy();
  return (await response.json()).segments;
}

/** Generate every segment through the API and wait until the task ends. */
export async function generateAllViaApi(request: APIRequestContext, projectId: string): Promise<void> {
  const started = await request.post(`/api/projects/${projectId}/generate-all-audio/`, { data: {} });
  expect(started.status()).toBe(202);
  const { task_id: taskId } = await started.json();
  await expect
    .poll(async () => (await (await request.get(`/api/tasks/${taskId}/status/`)).json()).status, { timeout: 120_000, intervals: [500] })
    .toBe("COMPLETED");
}

/**
 * The duration, in seconds, that the `<audio>` element reports once its
 * metadata has loaded (NaN if it fails to load).
 */
export async function audioDuration(audio: Locator): Promise<number> {
  return audio.evaluate(
    (element: HTMLAudioElement) =>
      new Promise<number>((resolve) => {
        if (element.readyState >= 1 && Number.isFinite(element.duration)) return resolve(element.duration);
        element.addEventListener("loadedmetadata", () => resolve(element.duration), { once: true });
        element.addEventListener("error", () => resolve(Number.NaN), { once: true });
      }),
  );
}

/** The timeline's segment cards, in order. */
export const segmentCards = (page: Page) => page.getByTestId("segment");

/** The Generate-all progress panel. */
export const progressPanel = (page: Page) => page.getByTestId("generation-progress");

/** Paragraphs of about 150 characters, for the longer batches (about 2 s of synthesis each here). */
export function longParagraphs(count: number): string[] {
  const lines = [
    "The river ran low that autumn, and the ferryman counted the stones that rose from the water like the backs of sleeping animals.",
    "Every evening the baker left one loaf on the sill, and every morning it was gone, though nobody in the village admitted to taking it.",
    "Mira kept a notebook of the clouds she saw from the tower, drawing each one quickly before the wind could change its mind.",
    "The old clock in the square struck thirteen once a year, and on that night the children were allowed to stay up and listen.",
    "A letter arrived with no stamp and no name, only a pressed blue flower and a map of a garden that did not seem to exist.",
    "When the snow finally came, the whole valley went quiet, and the only sound was the soft creak of boots on the road to the mill.",
    "The lighthouse keeper painted the stairs a different colour every spring, so that climbing them felt like walking through the year.",
    "At the end of the street there was a shop that sold only keys, and the owner claimed that every one of them still opened something.",
  ];
  return Array.from({ length: count }, (_, index) => lines[index % lines.length]);
}
