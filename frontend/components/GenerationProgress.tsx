"use client";
/**
 * The batch progress panel: a progress bar, the percentage, which segment is
 * being generated, how many are done, the ETA, per-segment errors and a
 * Cancel button while the task runs.
 */
import { formatDuration, formatEta } from "@/lib/format";
import { isTerminalStatus, type TaskStatusResponse } from "@/lib/types";

export interface GenerationProgressProps {
  /** The latest status of the batch task; undefined while it is first being fetched. */
  task: TaskStatusResponse | undefined;
  /** Segments the batch will process when the status does not say (from the generate-all answer). */
  expectedTotal?: number;
  /** Label for a segment id in the error list, e.g. "Segment 3". */
  segmentLabel?: (segmentId: string) => string;
  /** Called by the Cancel button; the button is shown only while the task is PENDING or PROCESSING. */
  onCancel?: () => void;
  /** True once Cancel was pressed: the button is disabled and the step says the batch is stopping. */
  cancelRequested?: boolean;
  /** A failure to read the task's status (network, 404), shown instead of the live numbers. */
  fetchError?: string | null;
  /** Hides the panel (e.g. after the writer dismissed a finished batch). */
  onDismiss?: () => void;
}

/** Numbers derived from a status body; exported for tests. */
export interface ProgressNumbers {
  /** 0–100, rounded. */
  percent: number;
  /** Segments finished (audio written) so far. */
  done: number;
  /** Segments that failed so far. */
  failed: number;
  /** Segments the task processes in all (0 when unknown). */
  total: number;
  /** 1-based segment being generated now, or null. */
  current: number | null;
}

/**
 * Percent, counts and the current segment of a task.
 *
 * The percentage is the backend's character-weighted `overall_progress` when
 * present; otherwise the share of segments finished or failed (the spec's
 * `progress.percentage` counts the segment just started as done, so it is not
 * used). A COMPLETED task is 100.
 */
export function progressNumbers(task: TaskStatusResponse | undefined, expectedTotal = 0): ProgressNumbers {
  if (!task) return { percent: 0, done: 0, failed: 0, total: expectedTotal, current: null };
  const done = task.completed_segments?.length ?? 0;
  const failed = task.errors?.filter((entry) => entry.segment_id != null).length ?? 0;
  const total = task.progress?.total || task.segment_ids?.length || expectedTotal || 0;
  let percent: number;
  if (task.status === "COMPLETED") percent = 100;
  else if (typeof task.overall_progress === "number" && Number.isFinite(task.overall_progress)) percent = task.overall_progress;
  else percent = total > 0 ? ((done + failed) / total) * 100 : 0;
  percent = Math.max(0, Math.min(100, Math.round(percent)));
  const current = task.status === "PROCESSING" && task.progress?.current ? task.progress.current : null;
  return { percent, done, failed, total, current };
}

const HEADINGS: Record<string, string> = {
  PENDING: "Queued",
  PROCESSING: "Generating audio",
  COMPLETED: "Finished",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
};

/** The progress panel of a Generate-all task, in every task state. */
export function GenerationProgress({
  task,
  expectedTotal = 0,
  segmentLabel = (id) => `Segment ${id.slice(0, 8)}`,
  onCancel,
  cancelRequested = false,
  fetchError = null,
  onDismiss,
}: GenerationProgressProps) {
  const status = task?.status;
  const running = !!task && !isTerminalStatus(status);
  const { percent, done, failed, total, current } = progressNumbers(task, expectedTotal);

  let step: string;
  if (!task) step = fetchError ? `Could not read the task's progress: ${fetchError}` : "Starting…";
  else if (running && cancelRequested) step = "Cancelling after the current segment…";
  else if (status === "PENDING") step = "Waiting for the narrator to start…";
  else if (status === "PROCESSING")
    step = current && total ? `Generating segment ${current} of ${total}` : "Generating…";
  else if (status === "COMPLETED") step = `All done: ${done} of ${total} segments generated.`;
  else if (status === "CANCELLED") step = `Cancelled: ${done} of ${total} segments were generated and kept.`;
  else step = "The task stopped with an error.";

  const detail = running && task?.current_step && !cancelRequested ? task.current_step : null;
  const eta = running ? formatEta(task?.eta_seconds) : null;
  const taskErrors = task?.errors ?? [];

  return (
    <section
      className={`progress-panel progress-${(status ?? "loading").toLowerCase()}`}
      aria-label="Generation progress"
      data-testid="generation-progress"
      data-status={status ?? "LOADING"}
    >
      <div className="progress-head">
        <h2 className="progress-title" data-testid="progress-title">
          {task ? (running && cancelRequested ? "Cancelling" : HEADINGS[status ?? ""] ?? status) : "Starting"}
        </h2>
        <span className="progress-percent" data-testid="progress-percent">
          {percent} %
        </span>
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-label="Generate all progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent} percent, ${done} of ${total} segments done`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-step" data-testid="progress-step" aria-live="polite">
        {step}
      </p>
      {detail && detail !== step ? <p className="progress-detail" data-testid="progress-detail">{detail}</p> : null}
      <p className="progress-counts" data-testid="progress-counts">
        {done} of {total} completed
        {failed ? `, ${failed} failed` : ""}
        {eta ? <span data-testid="progress-eta"> · {eta}</span> : null}
        {task?.elapsed_seconds != null ? <span> · {formatDuration(task.elapsed_seconds)} elapsed</span> : null}
        {task?.realtime_factor != null && task.realtime_factor > 0 ? (
          <span> · {(1 / task.realtime_factor).toFixed(1)}× real time</span>
        ) : null}
      </p>
      {taskErrors.length ? (
        <ul className="progress-errors" data-testid="progress-errors" aria-label="Errors">
          {taskErrors.map((entry, index) => (
            <li key={`${entry.segment_id ?? "task"}-${index}`}>
              <strong>{entry.segment_id ? segmentLabel(entry.segment_id) : "Task"}:</strong> {entry.error}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="progress-actions">
        {running && onCancel ? (
          <button type="button" className="button danger" onClick={onCancel} disabled={cancelRequested}>
            {cancelRequested ? "Cancelling…" : "Cancel"}
          </button>
        ) : null}
        {!running && onDismiss ? (
          <button type="button" className="button quiet" onClick={onDismiss}>
            Dismiss
          </button>
        ) : null}
      </div>
    </section>
  );
}
