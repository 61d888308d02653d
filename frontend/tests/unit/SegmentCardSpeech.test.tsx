/**
 * A segment card's issue 9 parts against a mocked API: the "Out of date"
 * badge and its explanation, "How it will be read" (the speech preview of the
 * text being edited, with the project id and the segment's voice), and the
 * segment's own voice picker (inherits the project's; Save sends voice/speed).
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SegmentCard, STALE_EXPLANATION, voiceSummary, type SegmentCardProps } from "@/components/SegmentCard";
import type { Segment } from "@/lib/types";
import { jsonResponse, segmentFixture } from "./helpers";

type Handler = (init: RequestInit) => Response | Promise<Response>;
let routes: Record<string, Handler>;
let fetchMock: ReturnType<typeof vi.fn>;

beforeEach(() => {
  routes = {
    "GET /api/voices/": () =>
      jsonResponse(200, { voices: ["af_heart", "af_bella", "am_adam"], default_voice_id: "af_heart", model_available: true, model_variant: "q8", max_blend_voices: 5 }),
    "POST /api/speech/preview/": (init) => {
      const { text } = JSON.parse(String(init.body));
      return jsonResponse(200, {
        spoken_text: text.replace("Dantès", "Dahn-tess").replace("1815", "eighteen fifteen"),
        phonemes: "dˈɑːntɛs",
        token_count: 42,
        rules_applied: text.includes("Dantès") ? ["r1"] : [],
      });
    },
  };
  fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${url}`;
    const handler = routes[key];
    return handler ? handler(init) : jsonResponse(404, { error: `no route for ${key}` });
  });
  vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const calls = (key: string) =>
  fetchMock.mock.calls.filter(([url, init]) => `${(init as RequestInit | undefined)?.method ?? "GET"} ${url}` === key);
const bodyOf = (call: unknown[]) => JSON.parse(String((call[1] as RequestInit).body));

const segment = (extra: Partial<Segment> = {}): Segment =>
  segmentFixture({ project: "p1", text_content: "Dantès came home in 1815.", audio_file: "/media/s1.wav", audio_duration: 2, ...extra });

function renderCard(props: Partial<SegmentCardProps> = {}) {
  const onVoiceSave = vi.fn(async () => undefined);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <SegmentCard
        segment={segment()}
        position={2}
        count={3}
        state={{ badge: "ready" }}
        audioSrc="/media/s1.wav?v=1"
        playing={false}
        orderBusy={false}
        chapterNumber={1}
        onChapterChange={async () => undefined}
        onSave={async () => undefined}
        onToggleLock={() => {}}
        onMove={() => {}}
        onAddBelow={() => {}}
        onDelete={() => {}}
        onGenerate={() => {}}
        inheritedVoice={{ voice: "bf_emma", speed: 1.1, from: "the project" }}
        onVoiceSave={onVoiceSave}
        audioRef={() => {}}
        onAudioEnded={() => {}}
        {...props}
      />
    </QueryClientProvider>,
  );
  return { onVoiceSave };
}

describe("Out of date badge", () => {
  it("is shown with its explanation when the audio is stale", () => {
    renderCard({ segment: segment({ audio_stale: true }) });
    const badge = screen.getByTestId("stale-badge");
    expect(badge.textContent).toBe("Out of date");
    expect(badge.getAttribute("title")).toBe(STALE_EXPLANATION);
    expect(STALE_EXPLANATION).toMatch(/text, voice, speed, pronunciation rules or model changed/);
    expect(STALE_EXPLANATION).toMatch(/Regenerate/);
    expect(screen.getByTestId("segment-status").textContent).toBe("Ready"); // next to the status, not instead
  });

  it("is not shown for up-to-date audio", () => {
    renderCard();
    expect(screen.queryByTestId("stale-badge")).toBeNull();
  });
});

describe("How it will be read", () => {
  it("is off until asked for; then shows the spoken text of the project's lexicon and voice", async () => {
    renderCard({ segment: segment({ voice: "am_adam" }) });
    expect(screen.queryByTestId("spoken-preview")).toBeNull();
    expect(calls("POST /api/speech/preview/")).toHaveLength(0);

    const toggle = screen.getByRole("button", { name: "How it will be read" });
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    expect((await screen.findByTestId("spoken-text")).textContent).toBe("Dahn-tess came home in eighteen fifteen.");
    expect(screen.getByTestId("spoken-meta").textContent).toBe("42 tokens · 1 lexicon rule applied");
    expect(calls("POST /api/speech/preview/").map(bodyOf)).toEqual([
      { text: "Dantès came home in 1815.", project: "p1", voice: "am_adam" },
    ]);

    fireEvent.click(toggle);
    expect(screen.queryByTestId("spoken-preview")).toBeNull();
  });

  it("follows the text being edited, with the inherited voice when the segment has none", async () => {
    renderCard();
    fireEvent.click(screen.getByRole("button", { name: "How it will be read" }));
    await screen.findByTestId("spoken-text");
    fireEvent.change(screen.getByRole("textbox"), { target: { value: "He left in 1815." } });
    await waitFor(() => expect(screen.getByTestId("spoken-text").textContent).toBe("He left in eighteen fifteen."), { timeout: 2000 });
    expect(screen.getByTestId("spoken-meta").textContent).toBe("42 tokens · no lexicon rule applied");
    expect(calls("POST /api/speech/preview/").map(bodyOf).at(-1)).toEqual({ text: "He left in 1815.", project: "p1", voice: "bf_emma" });
  });

  it("shows the preview's error", async () => {
    routes["POST /api/speech/preview/"] = () => jsonResponse(400, { project: ["Unknown project."] });
    renderCard();
    fireEvent.click(screen.getByRole("button", { name: "How it will be read" }));
    expect((await screen.findByTestId("spoken-error")).textContent).toBe("Could not preview: project: Unknown project.");
  });
});

describe("the segment's voice", () => {
  it("the button sums up the voice; it opens a picker that inherits the project's and saves voice and speed", async () => {
    const { onVoiceSave } = renderCard();
    const toggle = screen.getByTestId("voice-toggle");
    expect(toggle.textContent).toBe("Voice: default");
    expect(screen.queryByTestId("voice-picker")).toBeNull();
    fireEvent.click(toggle);
    const picker = screen.getByRole("group", { name: "Voice of segment 2" });
    const select = within(picker).getByLabelText("Voice") as HTMLSelectElement;
    await waitFor(() => expect(within(select).getByRole("option", { name: "am_adam" })).toBeTruthy());
    expect(select.selectedOptions[0].textContent).toBe("Default (inherit: bf_emma)");
    expect((within(picker).getByLabelText("Speed") as HTMLInputElement).placeholder).toBe("1.1");

    fireEvent.change(select, { target: { value: "am_adam" } });
    fireEvent.click(within(picker).getByRole("button", { name: "Save voice" }));
    await waitFor(() => expect(onVoiceSave).toHaveBeenCalledWith({ voice: "am_adam", speed: null }));
  });

  it("is read-only on a locked segment", () => {
    renderCard({ segment: segment({ is_locked: true, voice: "af_bella:0.6+am_adam:0.4", speed: 0.9 }) });
    fireEvent.click(screen.getByTestId("voice-toggle"));
    const picker = screen.getByRole("group", { name: "Voice of segment 2" });
    expect(within(picker).getByLabelText("Voice")).toHaveProperty("disabled", true);
    expect(within(picker).getByRole("button", { name: "Save voice" })).toHaveProperty("disabled", true);
  });

  it("voiceSummary", () => {
    expect(voiceSummary({ voice: null, speed: null })).toBe("Voice: default");
    expect(voiceSummary({ voice: "af_bella", speed: 1.1 })).toBe("Voice: af_bella · 1.10×");
    expect(voiceSummary({ voice: "af_bella:0.6+am_adam:0.4", speed: null })).toBe("Voice: af_bella 60 % + am_adam 40 %");
  });
});
