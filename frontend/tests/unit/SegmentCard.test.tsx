/** A segment card's read-along highlight while its audio plays, and its chapter header (mark, rename, remove). */
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { SegmentCard, type SegmentCardProps } from "@/components/SegmentCard";
import type { Segment } from "@/lib/types";
import { segmentFixture } from "./helpers";

afterEach(cleanup);

const text = "\u201cWho are you?\u201d said the Caterpillar. Alice replied, rather shyly.";
const segment = (extra: Partial<Segment> = {}): Segment =>
  segmentFixture({
    text_content: text,
    audio_file: "/media/s1.wav",
    audio_duration: 4,
    cues: [
      { start: 0.1, end: 1.9, text: '"Who are you?" said the Caterpillar.' },
      { start: 2.2, end: 3.9, text: "Alice replied, rather shyly." },
    ],
    ...extra,
  });

function renderCard(props: Partial<SegmentCardProps> = {}) {
  const onChapterChange = vi.fn(async () => undefined);
  render(
    <SegmentCard
      segment={segment()}
      position={1}
      count={1}
      state={{ badge: "ready" }}
      audioSrc="/media/s1.wav?v=1"
      playing={false}
      orderBusy={false}
      chapterNumber={2}
      onChapterChange={onChapterChange}
      onSave={async () => undefined}
      onToggleLock={() => {}}
      onMove={() => {}}
      onAddBelow={() => {}}
      onDelete={() => {}}
      onGenerate={() => {}}
      inheritedVoice={{ voice: "af_heart", speed: 1, from: "the project" }}
      onVoiceSave={async () => undefined}
      audioRef={() => {}}
      onAudioEnded={() => {}}
      {...props}
    />,
  );
  return { onChapterChange, audio: screen.getByTestId("segment-audio") as HTMLAudioElement };
}

/** Move the audio to `time` seconds (as a seek does) while it plays. */
function playAt(audio: HTMLAudioElement, time: number) {
  act(() => {
    audio.currentTime = time;
    fireEvent.play(audio);
    fireEvent.seeked(audio);
  });
}

describe("read-along highlight", () => {
  it("highlights the sentence being spoken, and nothing in a pause between sentences", () => {
    const { audio } = renderCard();
    expect(screen.queryByTestId("segment-reading")).toBeNull();
    playAt(audio, 1.0);
    expect(screen.getByTestId("cue-highlight").textContent).toBe("\u201cWho are you?\u201d said the Caterpillar.");
    playAt(audio, 3.0);
    expect(screen.getByTestId("cue-highlight").textContent).toBe("Alice replied, rather shyly.");
    expect(screen.getByTestId("segment-reading").textContent).toBe(text);
    playAt(audio, 2.0);
    expect(screen.queryByTestId("cue-highlight")).toBeNull();
  });

  it("pausing brings the editable text back", () => {
    const { audio } = renderCard();
    playAt(audio, 1.0);
    expect(screen.queryByRole("textbox")).toBeNull();
    act(() => {
      fireEvent.pause(audio);
    });
    expect(screen.getByRole("textbox")).toBeTruthy();
  });

  it("a cue that is not in the text highlights nothing", () => {
    cleanup();
    const { audio } = renderCard({
      segment: segment({ cues: [{ start: 0, end: 2, text: "Something else entirely." }] }),
    });
    playAt(audio, 1.0);
    expect(screen.getByTestId("segment-reading")).toBeTruthy();
    expect(screen.queryByTestId("cue-highlight")).toBeNull();
  });

  it("no cues (older audio): the text stays editable while playing", () => {
    const { audio } = renderCard({ segment: segment({ cues: [] }) });
    playAt(audio, 1.0);
    expect(screen.queryByTestId("segment-reading")).toBeNull();
    expect(screen.getByRole("textbox")).toBeTruthy();
  });
});

describe("chapter header", () => {
  it("a chapter start shows its header; rename and remove PATCH through onChapterChange", async () => {
    const { onChapterChange } = renderCard({ segment: segment({ chapter_title: "Advice from a Caterpillar" }) });
    expect(screen.getByTestId("chapter-header").textContent).toContain("Chapter 2");
    expect(screen.getByTestId("chapter-title").textContent).toBe("Advice from a Caterpillar");
    expect(screen.queryByRole("button", { name: "Start chapter" })).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "Rename" }));
    fireEvent.change(screen.getByLabelText("Chapter title of segment 1"), { target: { value: "  Chapter V  " } });
    fireEvent.click(screen.getByRole("button", { name: "Rename" }));
    await waitFor(() => expect(onChapterChange).toHaveBeenCalledWith("Chapter V"));

    fireEvent.click(screen.getByRole("button", { name: "Remove chapter" }));
    await waitFor(() => expect(onChapterChange).toHaveBeenLastCalledWith(null));
  });

  it("Start chapter proposes a title and saves it; Cancel leaves the segment as it was", async () => {
    const { onChapterChange } = renderCard({ segment: segment({ text_content: "# The Pool of Tears" }) });
    expect(screen.queryByTestId("chapter-header")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Start chapter" }));
    const input = screen.getByLabelText("Chapter title of segment 1") as HTMLInputElement;
    expect(input.value).toBe("The Pool of Tears");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByTestId("chapter-header")).toBeNull();
    expect(onChapterChange).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole("button", { name: "Start chapter" }));
    fireEvent.submit(screen.getByLabelText("Chapter title of segment 1").closest("form")!);
    await waitFor(() => expect(onChapterChange).toHaveBeenCalledWith("The Pool of Tears"));
  });

  it("a failed save is shown in the header", async () => {
    const onChapterChange = vi.fn(async () => {
      throw new Error("chapter_title: Ensure this field has no more than 255 characters.");
    });
    renderCard({ segment: segment({ chapter_title: "One" }), onChapterChange });
    fireEvent.click(screen.getByRole("button", { name: "Remove chapter" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no more than 255 characters");
  });
});
