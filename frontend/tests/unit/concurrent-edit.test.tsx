/**
 * Issue 11, concurrent edits, in the editor: the segment card saves with the
 * ETag its draft is an edit of; a 412 shows "Changed elsewhere — reload or
 * overwrite" without losing the typed text; Reload and Overwrite; a 412 from
 * fields other than the text is re-sent by itself. The last block runs the
 * card with the real useUpdateSegment against a fake server that checks If-Match.
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { CONFLICT_NOTICE, SegmentCard, draftBase, type SegmentCardProps } from "@/components/SegmentCard";
import { useProject, useUpdateSegment } from "@/hooks/useApi";
import { ApiError } from "@/lib/api";
import type { ProjectDetail, Segment } from "@/lib/types";
import { jsonResponse, segmentFixture } from "./helpers";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const CHANGED = "The segment changed elsewhere since you loaded it.";

const segment = (extra: Partial<Segment> = {}): Segment =>
  segmentFixture({ text_content: "The loaded text.", etag: '"v1"', ...extra });

/** A 412 as the backend sends it, with `current` as the segment now. */
const conflict = (current: Segment) => new ApiError(412, { error: CHANGED, current }, "PATCH failed with HTTP 412");

function cardProps(props: Partial<SegmentCardProps> = {}): SegmentCardProps {
  return {
    segment: segment(),
    position: 1,
    count: 1,
    state: { badge: "none" },
    audioSrc: null,
    playing: false,
    orderBusy: false,
    chapterNumber: 1,
    onChapterChange: async () => undefined,
    onSave: async () => undefined,
    onToggleLock: () => {},
    onMove: () => {},
    onAddBelow: () => {},
    onDelete: () => {},
    onGenerate: () => {},
    inheritedVoice: { voice: "af_heart", speed: 1, from: "the project" },
    onVoiceSave: async () => undefined,
    audioRef: () => {},
    onAudioEnded: () => {},
    ...props,
  };
}

function renderCard(props: Partial<SegmentCardProps> = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false, enabled: false } } });
  const wrap = (p: SegmentCardProps) => (
    <QueryClientProvider client={client}>
      <SegmentCard {...p} />
    </QueryClientProvider>
  );
  const view = render(wrap(cardProps(props)));
  return { rerender: (next: Partial<SegmentCardProps>) => view.rerender(wrap(cardProps({ ...props, ...next }))) };
}

const textarea = () => screen.getByLabelText("Text of segment 1") as HTMLTextAreaElement;
const type = (text: string) => fireEvent.change(textarea(), { target: { value: text } });
const click = (name: string) => fireEvent.click(screen.getByRole("button", { name }));

describe("draftBase", () => {
  const base = { text: "A", etag: '"v1"' };

  it("moves to the server's version when the draft equals its text, or when only other fields changed", () => {
    expect(draftBase(base, "B", { text_content: "B", etag: '"v3"' })).toEqual({ text: "B", etag: '"v3"' });
    expect(draftBase(base, "A edited", { text_content: "A", etag: '"v2"' })).toEqual({ text: "A", etag: '"v2"' });
  });

  it("keeps the old base when the server's text changed under an unsaved edit", () => {
    expect(draftBase(base, "A edited", { text_content: "B", etag: '"v2"' })).toBe(base);
  });
});

describe("the segment card's save", () => {
  it("sends the ETag it loaded as If-Match", async () => {
    const onSave = vi.fn(async () => undefined);
    renderCard({ onSave });
    type("My edit.");
    click("Save");
    await waitFor(() => expect(onSave).toHaveBeenCalledWith("My edit.", '"v1"'));
  });

  it("on a 412 shows the notice with the other version, keeping the typed text; Reload takes the other version", async () => {
    const theirs = segment({ text_content: "Their text.", etag: '"v2"' });
    const onSave = vi.fn(async () => Promise.reject(conflict(theirs)));
    const { rerender } = renderCard({ onSave });
    type("My edit.");
    click("Save");

    const notice = await screen.findByTestId("segment-conflict");
    expect(notice.textContent).toContain(CONFLICT_NOTICE);
    expect(CONFLICT_NOTICE).toBe("Changed elsewhere — reload or overwrite");
    expect(screen.getByTestId("segment-conflict-text").textContent).toContain("Their text.");
    expect(textarea().value).toBe("My edit.");
    expect(onSave).toHaveBeenCalledTimes(1); // not re-sent on its own: the text differs
    rerender({ segment: theirs, onSave }); // the cache now holds the other version (useUpdateSegment's onError)
    expect(textarea().value).toBe("My edit.");
    expect(screen.getByTestId("unsaved")).toBeTruthy();

    click("Reload");
    expect(textarea().value).toBe("Their text.");
    expect(screen.queryByTestId("segment-conflict")).toBeNull();
    expect(screen.queryByTestId("unsaved")).toBeNull();
  });

  it("Overwrite re-sends the typed text with the other version's ETag", async () => {
    const theirs = segment({ text_content: "Their text.", etag: '"v2"' });
    const onSave = vi.fn<(text: string, ifMatch?: string) => Promise<unknown>>();
    onSave.mockRejectedValueOnce(conflict(theirs)).mockResolvedValueOnce(undefined);
    const { rerender } = renderCard({ onSave });
    type("My edit.");
    click("Save");
    await screen.findByTestId("segment-conflict");

    click("Overwrite");
    await waitFor(() => expect(onSave).toHaveBeenLastCalledWith("My edit.", '"v2"'));
    await waitFor(() => expect(screen.queryByTestId("segment-conflict")).toBeNull());
    rerender({ segment: segment({ text_content: "My edit.", etag: '"v3"' }), onSave });
    expect(textarea().value).toBe("My edit.");
    expect(screen.queryByTestId("unsaved")).toBeNull();
  });

  it("a second change elsewhere during Overwrite shows the notice again, with the newest version", async () => {
    const onSave = vi.fn<(text: string, ifMatch?: string) => Promise<unknown>>();
    onSave
      .mockRejectedValueOnce(conflict(segment({ text_content: "Theirs 1.", etag: '"v2"' })))
      .mockRejectedValueOnce(conflict(segment({ text_content: "Theirs 2.", etag: '"v3"' })));
    renderCard({ onSave });
    type("My edit.");
    click("Save");
    await screen.findByTestId("segment-conflict");
    click("Overwrite");
    await waitFor(() => expect(screen.getByTestId("segment-conflict-text").textContent).toContain("Theirs 2."));
    expect(textarea().value).toBe("My edit.");
  });

  it("a 412 caused only by other fields (same text) is re-sent at once with the new ETag, without a notice", async () => {
    const onSave = vi.fn<(text: string, ifMatch?: string) => Promise<unknown>>();
    onSave.mockRejectedValueOnce(conflict(segment({ is_locked: false, sequence_index: 4, etag: '"v2"' }))).mockResolvedValueOnce(undefined);
    renderCard({ onSave });
    type("My edit.");
    click("Save");
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(2));
    expect(onSave.mock.calls.map((call) => call[1])).toEqual(['"v1"', '"v2"']);
    expect(screen.queryByTestId("segment-conflict")).toBeNull();
  });

  it("follows the ETag when only other fields change, and keeps the old one when the text changed under the edit", async () => {
    const onSave = vi.fn(async () => undefined);
    const { rerender } = renderCard({ onSave });
    type("My edit.");
    rerender({ segment: segment({ is_locked: false, voice: "am_adam", etag: '"v2"' }), onSave });
    click("Save");
    await waitFor(() => expect(onSave).toHaveBeenLastCalledWith("My edit.", '"v2"'));

    rerender({ segment: segment({ text_content: "Changed in another tab.", etag: '"v5"' }), onSave });
    expect(textarea().value).toBe("My edit."); // never replaced silently
    click("Save");
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(2));
    expect(onSave).toHaveBeenLastCalledWith("My edit.", '"v2"');
  });

  it("Save & generate does not generate when the save met a conflict", async () => {
    const onGenerate = vi.fn();
    renderCard({ onSave: async () => Promise.reject(conflict(segment({ text_content: "Theirs.", etag: '"v2"' }))), onGenerate });
    type("My edit.");
    click("Save & generate");
    await screen.findByTestId("segment-conflict");
    expect(onGenerate).not.toHaveBeenCalled();
  });
});

// ------------------------------------------------------------------ card + useUpdateSegment + a fake server

/** A one-segment server that honours If-Match as the backend does. */
function fakeServer() {
  const server = { text: "The loaded text.", version: 1, patches: [] as { ifMatch: string | null; body: unknown }[] };
  const body = (): Segment => segment({ text_content: server.text, etag: `"v${server.version}"` });
  const project = (): ProjectDetail => ({
    id: "p", title: "T", author: "", created_at: "", updated_at: "", segment_count: 1, total_audio_duration: 0,
    voice: null, speed: null, paragraph_pause: 0.6, chapter_pause: 2, lead_in: 0.75, tail: 2, segments: [body()], chapters: [],
  });
  const fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    if (method === "GET" && url === "/api/projects/p/") return jsonResponse(200, project());
    if (method === "PATCH" && url === "/api/segments/s1/") {
      const ifMatch = (init.headers as Record<string, string>)["If-Match"] ?? null;
      server.patches.push({ ifMatch, body: JSON.parse(String(init.body)) });
      if (ifMatch && ifMatch !== `"v${server.version}"`) return jsonResponse(412, { error: CHANGED, current: body() });
      server.text = (JSON.parse(String(init.body)) as { text_content: string }).text_content;
      server.version += 1;
      return jsonResponse(200, body());
    }
    return jsonResponse(404, { detail: "Not found." });
  });
  return { server, fetchMock };
}

function Editor() {
  const project = useProject("p");
  const update = useUpdateSegment("p");
  const loaded = project.data?.segments[0];
  if (!loaded) return null;
  return (
    <SegmentCard
      {...cardProps({ segment: loaded })}
      onSave={(text, ifMatch) => update.mutateAsync({ segmentId: loaded.id, changes: { text_content: text }, ifMatch })}
    />
  );
}

describe("the editor against a server that checks If-Match", () => {
  let fake: ReturnType<typeof fakeServer>;

  beforeEach(() => {
    fake = fakeServer();
    vi.stubGlobal("fetch", fake.fetchMock);
  });

  function renderEditor() {
    const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
    render(
      <QueryClientProvider client={client}>
        <Editor />
      </QueryClientProvider>,
    );
  }

  it("a change made elsewhere after loading gives the notice; Overwrite saves the typed text over it", async () => {
    renderEditor();
    await screen.findByLabelText("Text of segment 1");
    act(() => {
      fake.server.text = "Written in the other tab.";
      fake.server.version = 2;
    });
    type("My edit.");
    click("Save");
    await screen.findByTestId("segment-conflict");
    expect(textarea().value).toBe("My edit.");
    expect(fake.server.text).toBe("Written in the other tab.");

    click("Overwrite");
    await waitFor(() => expect(fake.server.text).toBe("My edit."));
    expect(fake.server.patches.map((patch) => patch.ifMatch)).toEqual(['"v1"', '"v2"']);
    await waitFor(() => expect(screen.queryByTestId("segment-conflict")).toBeNull());
    await waitFor(() => expect(screen.queryByTestId("unsaved")).toBeNull());

    type("My edit, again."); // the next save is based on the version it wrote
    click("Save");
    await waitFor(() => expect(fake.server.text).toBe("My edit, again."));
    expect(fake.server.patches.at(-1)?.ifMatch).toBe('"v3"');
  });

  it("Reload takes the other tab's text and writes nothing", async () => {
    renderEditor();
    await screen.findByLabelText("Text of segment 1");
    fake.server.text = "Written in the other tab.";
    fake.server.version = 2;
    type("My edit.");
    click("Save");
    await screen.findByTestId("segment-conflict");
    click("Reload");
    expect(textarea().value).toBe("Written in the other tab.");
    await waitFor(() => expect(screen.queryByTestId("unsaved")).toBeNull());
    expect(fake.server.patches).toHaveLength(1);
    expect(fake.server.text).toBe("Written in the other tab.");
  });
});
