/**
 * Issue 11, concurrent edits, in Debian's Chromium against the real backend:
 * the segment is changed through the API behind the editor's back (as a
 * second tab would), the writer edits the same segment in the editor and
 * saves: the save is refused (If-Match, 412), the card says "Changed
 * elsewhere — reload or overwrite" and keeps the typed text; Overwrite saves it.
 */
import path from "node:path";

import { ARTIFACTS, expect, importStory, segmentCards, serverSegments, test } from "./fixtures";

test("a segment changed in another tab: the editor says so, keeps the typed text, and Overwrite saves it", async ({
  page,
  request,
}) => {
  const project = await importStory(request, "Two tabs", ["The loaded line.", "An untouched line."]);
  const segmentId = project.segments[0].id;
  await page.goto(`/projects/${project.id}`);
  const card = segmentCards(page).first();
  const text = card.getByRole("textbox");
  await expect(text).toHaveValue("The loaded line.");

  // The "other tab": a plain PATCH, no If-Match, after the editor loaded the segment.
  const other = await request.patch(`/api/segments/${segmentId}/`, { data: { text_content: "Written in the other tab." } });
  expect(other.status()).toBe(200);
  const otherEtag = (await other.json()).etag as string;
  expect(other.headers()["etag"]).toBe(otherEtag);

  await text.fill("My edit in this tab.");
  await expect(card.getByTestId("unsaved")).toBeVisible();
  await card.getByRole("button", { name: "Save", exact: true }).click();

  const notice = card.getByTestId("segment-conflict");
  await expect(notice).toBeVisible();
  await expect(notice).toContainText("Changed elsewhere — reload or overwrite");
  await expect(notice.getByTestId("segment-conflict-text")).toContainText("Written in the other tab.");
  await expect(text).toHaveValue("My edit in this tab."); // nothing typed is lost
  expect((await serverSegments(request, project.id))[0].text_content).toBe("Written in the other tab.");
  await card.screenshot({ path: path.join(ARTIFACTS, "e2e-concurrent-edit-notice.png") });

  await notice.getByRole("button", { name: "Overwrite" }).click();
  await expect(notice).toHaveCount(0);
  await expect(card.getByTestId("unsaved")).toHaveCount(0);
  await expect.poll(async () => (await serverSegments(request, project.id))[0].text_content).toBe("My edit in this tab.");
  const saved = await (await request.get(`/api/segments/${segmentId}/`)).json();
  expect(saved.etag).not.toBe(otherEtag);

  // The next edit is based on the version this tab wrote: it saves without a notice.
  await text.fill("My second edit.");
  await card.getByRole("button", { name: "Save", exact: true }).click();
  await expect(card.getByTestId("unsaved")).toHaveCount(0);
  await expect(notice).toHaveCount(0);
  expect((await serverSegments(request, project.id))[0].text_content).toBe("My second edit.");

  // And after a reload the page shows what the server has.
  await page.reload();
  await expect(segmentCards(page).first().getByRole("textbox")).toHaveValue("My second edit.");
  await expect(segmentCards(page).nth(1).getByRole("textbox")).toHaveValue("An untouched line.");
});
