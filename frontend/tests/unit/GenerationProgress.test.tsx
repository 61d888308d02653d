/** The progress panel in each task state: bar value, texts, counts, ETA, errors and the Cancel button. */
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { GenerationProgress, progressNumbers } from "@/components/GenerationProgress";
import { taskStatus } from "./helpers";

afterEach(cleanup);

const done = (id: string, duration = 2) => ({ segment_id: id, audio_url: `/media/projects/p/audio/${id}.wav`, duration });


const bar = () => screen.getByRole("progressbar");
const text = (testId: string) => screen.getByTestId(testId).textContent;
const label = (id: string) => `Segment ${id.toUpperCase()}`;

describe("GenerationProgress", () => {
  it("while the first status loads: 0 %, starting, no cancel", () => {
    render(<GenerationProgress task={undefined} expectedTotal={3} onCancel={() => {}} />);
    expect(bar().getAttribute("aria-valuenow")).toBe("0");
    expect(text("progress-step")).toBe("Starting…");
    expect(text("progress-counts")).toContain("0 of 3 completed");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.getByTestId("generation-progress").dataset.status).toBe("LOADING");
  });

  it("PENDING: queued at 0 % with a Cancel button", () => {
    const onCancel = vi.fn();
    render(<GenerationProgress task={taskStatus({ status: "PENDING" })} expectedTotal={4} onCancel={onCancel} />);
    expect(text("progress-title")).toBe("Queued");
    expect(text("progress-percent")).toBe("0 %");
    expect(text("progress-step")).toMatch(/Waiting/);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it("PROCESSING without the progress fields: segment n of N and the finished share", () => {
    render(
      <GenerationProgress
        task={taskStatus({ progress: { current: 3, total: 4, percentage: 75, current_segment_id: "c" }, completed_segments: [done("a"), done("b")] })}
        onCancel={() => {}}
      />,
    );
    expect(text("progress-title")).toBe("Generating audio");
    expect(text("progress-step")).toBe("Generating segment 3 of 4");
    // Two of four finished: 50 %, not the spec's 75 % (which counts the segment just started).
    expect(bar().getAttribute("aria-valuenow")).toBe("50");
    expect(text("progress-percent")).toBe("50 %");
    expect(text("progress-counts")).toContain("2 of 4 completed");
    expect(screen.queryByTestId("progress-eta")).toBeNull();
    expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();
  });

  it("PROCESSING with the progress fields: overall progress, step text and ETA", () => {
    render(
      <GenerationProgress
        task={taskStatus({
          progress: { current: 3, total: 10, percentage: 30 },
          completed_segments: [done("a"), done("b")],
          overall_progress: 27.6,
          current_step: "Synthesizing segment 3 of 10 (chunk 2 of 4)",
          eta_seconds: 95,
          elapsed_seconds: 40,
          realtime_factor: 0.25,
        })}
        onCancel={() => {}}
      />,
    );
    expect(bar().getAttribute("aria-valuenow")).toBe("28");
    expect(text("progress-step")).toBe("Generating segment 3 of 10");
    expect(text("progress-detail")).toBe("Synthesizing segment 3 of 10 (chunk 2 of 4)");
    expect(text("progress-eta")).toContain("about 1 min 35 s left");
    expect(text("progress-counts")).toContain("0:40 elapsed");
    expect(text("progress-counts")).toContain("4.0× real time");
  });

  it("cancel requested: the button is disabled and the step says it is stopping", () => {
    render(<GenerationProgress task={taskStatus({ progress: { current: 1, total: 2, percentage: 50 } })} onCancel={() => {}} cancelRequested />);
    const button = screen.getByRole("button", { name: "Cancelling…" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(text("progress-step")).toBe("Cancelling after the current segment…");
    expect(text("progress-title")).toBe("Cancelling");
  });

  it("COMPLETED: 100 %, all done, no Cancel, a Dismiss button", () => {
    const onDismiss = vi.fn();
    render(
      <GenerationProgress
        task={taskStatus({ status: "COMPLETED", progress: { current: 3, total: 3, percentage: 100 }, completed_segments: [done("a"), done("b"), done("c")], eta_seconds: 0 })}
        onCancel={() => {}}
        onDismiss={onDismiss}
      />,
    );
    expect(bar().getAttribute("aria-valuenow")).toBe("100");
    expect(text("progress-title")).toBe("Finished");
    expect(text("progress-step")).toBe("All done: 3 of 3 segments generated.");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.queryByTestId("progress-eta")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(onDismiss).toHaveBeenCalled();
  });

  it("CANCELLED: the finished segments are counted as kept, the bar stays where it stopped", () => {
    render(
      <GenerationProgress
        task={taskStatus({ status: "CANCELLED", progress: { current: 2, total: 8, percentage: 25 }, completed_segments: [done("a"), done("b")] })}
        onCancel={() => {}}
      />,
    );
    expect(text("progress-title")).toBe("Cancelled");
    expect(text("progress-step")).toBe("Cancelled: 2 of 8 segments were generated and kept.");
    expect(bar().getAttribute("aria-valuenow")).toBe("25");
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.getByTestId("generation-progress").className).toContain("progress-cancelled");
  });

  it("FAILED and per-segment errors: each error is listed with its segment", () => {
    render(
      <GenerationProgress
        task={taskStatus({
          status: "FAILED",
          progress: { current: 2, total: 3, percentage: 66 },
          completed_segments: [done("a")],
          errors: [
            { segment_id: "b", error: "Voice 'x' is not installed" },
            { segment_id: null, error: "RuntimeError: worker crashed" },
          ],
        })}
        segmentLabel={label}
      />,
    );
    expect(text("progress-title")).toBe("Failed");
    const items = screen.getByTestId("progress-errors").querySelectorAll("li");
    expect([...items].map((item) => item.textContent)).toEqual([
      "Segment B: Voice 'x' is not installed",
      "Task: RuntimeError: worker crashed",
    ]);
    expect(text("progress-counts")).toContain("1 of 3 completed, 1 failed");
    // One finished, one failed of three: two thirds of the way.
    expect(bar().getAttribute("aria-valuenow")).toBe("67");
  });

  it("a status that cannot be read is reported", () => {
    render(<GenerationProgress task={undefined} fetchError="Task not found" />);
    expect(text("progress-step")).toBe("Could not read the task's progress: Task not found");
  });
});

describe("progressNumbers", () => {
  it("takes the total from segment_ids, then the expected total, before progress starts", () => {
    expect(progressNumbers(taskStatus({ status: "PENDING", segment_ids: ["a", "b", "c"] })).total).toBe(3);
    expect(progressNumbers(taskStatus({ status: "PENDING" }), 5).total).toBe(5);
  });

  it("clamps the backend's overall progress to 0–100", () => {
    expect(progressNumbers(taskStatus({ overall_progress: 140 })).percent).toBe(100);
    expect(progressNumbers(taskStatus({ overall_progress: -3 })).percent).toBe(0);
  });
});
