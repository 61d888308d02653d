/**
 * Issue 9 in Debian's Chromium against the real backend and the real model:
 * a pronunciation rule changes how a segment will be read (lexicon page,
 * its 400 next to the field, "Try it", the segment's "How it will be read");
 * a segment's audio goes out of date when its text or a matching rule
 * changes, and Generate all's notice counts and regenerates it; a segment's
 * voice blend is built, sampled and saved. A screenshot of each test goes to
 * test-artifacts/.
 */
import path from "node:path";

import { ARTIFACTS, expect, generateAllViaApi, importStory, segmentCards, serverSegments, test } from "./fixtures";

test("a lexicon rule changes how the matching segment will be read", async ({ page, request }) => {
  const project = await importStory(request, "Lexicon", ["Edmond Dantès came home.", "The ship was late."]);
  await page.goto(`/projects/${project.id}`);
  const [first, second] = [segmentCards(page).nth(0), segmentCards(page).nth(1)];

  // Before: read as written.
  await first.getByRole("button", { name: "How it will be read" }).click();
  await expect(first.getByTestId("spoken-text")).toContainText("Dantès");

  // The lexicon page, from the project page.
  await page.getByRole("link", { name: "Pronunciation lexicon" }).click();
  await expect(page).toHaveURL(new RegExp(`/projects/${project.id}/lexicon$`));
  await expect(page.getByRole("heading", { name: "Pronunciation lexicon" })).toBeVisible();
  await expect(page.getByTestId("no-rules")).toBeVisible();
  const form = page.getByRole("form", { name: "New rule" });

  // Phonemes the model does not know: the 400 is shown next to the replacement.
  await form.getByLabel("New rule: pattern").fill("Dantès");
  await form.getByLabel("New rule: replacement").fill("/d☃n/");
  await form.getByRole("button", { name: "Add rule" }).click();
  const replacementError = form.getByTestId("error-replacement");
  await expect(replacementError).toBeVisible();
  await expect(replacementError).toContainText("☃");
  await expect(page.getByTestId("lexicon-rule")).toHaveCount(0);

  // A respelling is accepted and listed.
  await form.getByLabel("New rule: replacement").fill("Dahn-tess");
  await form.getByRole("button", { name: "Add rule" }).click();
  const row = page.getByTestId("lexicon-rule");
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId("rule-pattern")).toHaveText("Dantès");
  await expect(row.getByTestId("rule-replacement")).toHaveText("Dahn-tess");
  await expect(row.getByTestId("rule-case")).toHaveText("No");
  await expect(row.getByTestId("rule-kind")).toHaveText("Respelling");
  await expect(form.getByLabel("New rule: pattern")).toHaveValue("");

  // Try it: the sentence is read with the rule, and the rule is marked as applied.
  await page.getByLabel("Sentence to try").fill("Dantès smiled at the sea.");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("spoken-text")).toContainText("Dahn-tess");
  await expect(page.getByTestId("spoken-text")).not.toContainText("Dantès");
  await expect(row).toHaveClass(/rule-applied/);
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-lexicon-page.png"), fullPage: true });

  // Back on the timeline: the matching segment's spoken text changed, the other did not.
  await page.getByRole("link", { name: "← Lexicon", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/projects/${project.id}$`));
  await first.getByRole("button", { name: "How it will be read" }).click();
  await expect(first.getByTestId("spoken-text")).toContainText("Dahn-tess");
  await expect(first.getByTestId("spoken-text")).not.toContainText("Dantès");
  await expect(first.getByTestId("spoken-meta")).toContainText("1 lexicon rule applied");
  await second.getByRole("button", { name: "How it will be read" }).click();
  await expect(second.getByTestId("spoken-text")).toContainText("ship");
  await expect(second.getByTestId("spoken-meta")).toContainText("no lexicon rule applied");

  // Editing the text follows in the preview.
  await first.getByRole("textbox").fill("Dantès was 19 years old.");
  await expect(first.getByTestId("spoken-text")).toContainText("Dahn-tess was nineteen years old");
  await expect(first.getByTestId("unsaved")).toBeVisible(); // previewed before it is saved
});

test("edited text or a matching rule marks the audio out of date; Generate all counts and renews it", async ({ page, request }) => {
  const project = await importStory(request, "Out of date", ["A short one.", "The baker left a loaf."]);
  await generateAllViaApi(request, project.id);
  expect((await serverSegments(request, project.id)).map((segment) => segment.audio_stale)).toEqual([false, false]);

  await page.goto(`/projects/${project.id}`);
  const [first, second] = [segmentCards(page).nth(0), segmentCards(page).nth(1)];
  await expect(first.getByTestId("segment-status")).toHaveText("Ready");
  await expect(page.getByTestId("stale-badge")).toHaveCount(0);

  // Edit the first segment's text: its audio is out of date, the other's is not.
  await first.getByRole("textbox").fill("A short one, now a little longer.");
  await first.getByRole("button", { name: "Save", exact: true }).click();
  await expect(first.getByTestId("unsaved")).toHaveCount(0);
  const badge = first.getByTestId("stale-badge");
  await expect(badge).toHaveText("Out of date");
  await expect(badge).toHaveAttribute("title", /text, voice, speed, pronunciation rules or model changed.*Regenerate/);
  await expect(second.getByTestId("stale-badge")).toHaveCount(0);
  await expect(first.getByTestId("segment-audio")).toHaveCount(1); // the old audio is kept until regenerated
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-out-of-date-badge.png"), fullPage: true });

  // A rule that matches only the second segment's text marks it (the first stays out of date for its text).
  const created = await request.post(`/api/projects/${project.id}/lexicon/`, { data: { pattern: "baker", replacement: "bay-ker" } });
  expect(created.status()).toBe(201);
  await page.reload();
  await expect(second.getByTestId("stale-badge")).toBeVisible();
  await expect(first.getByTestId("stale-badge")).toBeVisible();
  await expect(page.getByTestId("project-summary")).toContainText("2 out of date");

  // Generate all says what it renews, and the badges go.
  await page.getByRole("button", { name: "Generate all" }).click();
  await expect(page.getByTestId("notice")).toContainText("Generating 2 segments: 0 missing audio, 2 out of date.");
  await expect(page.getByTestId("generation-progress")).toHaveAttribute("data-status", "COMPLETED", { timeout: 120_000 });
  await expect(page.getByTestId("stale-badge")).toHaveCount(0);
  expect((await serverSegments(request, project.id)).map((segment) => segment.audio_stale)).toEqual([false, false]);
});

test("pick a segment voice blend, hear a sample and save it", async ({ page, request }) => {
  const voicesAnswer = await request.get("/api/voices/");
  expect(voicesAnswer.ok()).toBeTruthy();
  const { voices, max_blend_voices: maxBlend } = (await voicesAnswer.json()) as { voices: string[]; max_blend_voices: number };
  expect(voices.length).toBeGreaterThanOrEqual(2);
  const [a, b] = [...voices.slice(0, 2)].sort();
  const project = await importStory(request, "Blend", ["\u201cWho goes there?\u201d asked the guard.", "Nobody answered."]);

  await page.goto(`/projects/${project.id}`);
  const card = segmentCards(page).nth(0);
  const toggle = card.getByTestId("voice-toggle");
  await expect(toggle).toHaveText("Voice: default");
  await toggle.click();
  const picker = card.getByRole("group", { name: "Voice of segment 1" });
  await expect(picker.getByLabel("Voice", { exact: true })).toHaveValue("");
  await expect(picker.getByLabel("Voice", { exact: true }).locator("option").first()).toHaveText(/^Default \(inherit: .+\)$/);

  await picker.getByLabel("Voice", { exact: true }).selectOption({ label: "Blend of voices…" });
  await picker.getByLabel("Blend voice 1", { exact: true }).selectOption(a);
  await picker.getByLabel("Blend voice 2", { exact: true }).selectOption(b);
  await picker.getByLabel("Weight of blend voice 1").fill("3");
  await picker.getByLabel("Weight of blend voice 2").fill("2");
  const canonical = `${a}:0.6+${b}:0.4`;
  await expect(picker.getByTestId("blend-string")).toHaveText(canonical);
  // Up to max_blend_voices rows.
  for (let rows = 2; rows < maxBlend; rows += 1) await picker.getByRole("button", { name: "Add voice" }).click();
  await expect(picker.getByTestId("blend-row")).toHaveCount(maxBlend);
  await expect(picker.getByRole("button", { name: "Add voice" })).toBeDisabled();
  for (let rows = maxBlend; rows > 2; rows -= 1) await picker.getByRole("button", { name: `Remove blend voice ${rows}` }).click();
  await expect(picker.getByTestId("blend-string")).toHaveText(canonical);

  // The sample of the unsaved blend is a WAV from the voice preview endpoint.
  const [sample] = await Promise.all([
    page.waitForResponse((response) => response.url().endsWith("/api/voices/preview/"), { timeout: 60_000 }),
    picker.getByRole("button", { name: "Play sample" }).click(),
  ]);
  expect(sample.status()).toBe(200);
  expect(sample.headers()["content-type"]).toContain("audio/wav");
  expect(JSON.parse(sample.request().postData() ?? "{}")).toMatchObject({ voice: canonical });
  await expect(picker.getByTestId("sample-error")).toHaveCount(0);

  await picker.getByLabel("Speed", { exact: true }).fill("1.2");
  await picker.getByRole("button", { name: "Save voice" }).click();
  await expect(picker.getByRole("status")).toHaveText("Saved.");
  const saved = (await serverSegments(request, project.id))[0];
  expect(saved.voice).toBe(canonical);
  expect(saved.speed).toBeCloseTo(1.2);
  await expect(toggle).toHaveText(`Voice: ${a} 60 % + ${b} 40 % · 1.20×`);
  await page.screenshot({ path: path.join(ARTIFACTS, "e2e-segment-voice-blend.png"), fullPage: true });

  // After a reload the picker shows the saved blend; the other segment still inherits.
  await page.reload();
  await card.getByTestId("voice-toggle").click();
  await expect(card.getByTestId("blend-string")).toHaveText(canonical);
  await expect(card.getByLabel("Weight of blend voice 1")).toHaveValue("0.6");
  await expect(segmentCards(page).nth(1).getByTestId("voice-toggle")).toHaveText("Voice: default");

  // The project's voice (beside the pacing) is what a segment without its own inherits.
  const projectPicker = page.getByRole("group", { name: "Project voice" });
  await projectPicker.getByLabel("Voice", { exact: true }).selectOption(b);
  await projectPicker.getByRole("button", { name: "Save voice" }).click();
  await expect(projectPicker.getByRole("status")).toHaveText("Saved.");
  expect((await (await request.get(`/api/projects/${project.id}/`)).json()).voice).toBe(b);
  const second = segmentCards(page).nth(1);
  await second.getByTestId("voice-toggle").click();
  await expect(
    second.getByRole("group", { name: "Voice of segment 2" }).getByLabel("Voice", { exact: true }).locator("option").first(),
  ).toHaveText(`Default (inherit: ${b})`);
});
