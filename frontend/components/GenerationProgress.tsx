"use client";
/**
 * The task progress panel: a progress bar, the percentage, what is being done
 * now, how far it got, the ETA, errors and a Cancel button while the task runs.
 *
 * Two kinds: a Generate-all batch (`kind="batch"`, the default: which segment
 * is being generated and how many are done) and a whole-book export
 * (`kind="export"`: the stage, e.g. "Encoding the audiobook", and the
 * backend's step text).
 */
import { formatDuration, formatEta } from "@/lib/format";
import { isTerminalStatus, type TaskStage, type TaskStatusResponse } from "@/lib/types";

/** What the panel follows: a Generate-all batch or a whole-book export. */
export type ProgressKind = "batch" | "export";

export interface GenerationProgressProps {
  /** Batch (default) or export: changes the wording, the label and the test id (`export-progress`). */
  kind?: ProgressKind;
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
export function progressNumbers(
  task: TaskStatusResponse | undefined,
  expectedTotal = 0,
  kind: ProgressKind = "batch",
): ProgressNumbers {
  if (!task) return { percent: 0, done: 0, failed: 0, total: expectedTotal, current: null };
  const done = task.completed_segments?.length ?? 0;
  const failed = task.errors?.filter((entry) => entry.segment_id != null).length ?? 0;
  const total = task.progress?.total || task.segment_ids?.length || expectedTotal || 0;
  let percent: number;
  if (task.status === "COMPLETED") percent = 100;
  else if (typeof task.overall_progress === "number" && Number.isFinite(task.overall_progress)) percent = task.overall_progress;
  // An export's progress block counts its own units (stages), not segments.
  else if (kind === "export") percent = task.progress?.percentage ?? 0;
  else percent = total > 0 ? ((done + failed) / total) * 100 : 0;
  percent = Math.max(0, Math.min(100, Math.round(percent)));
  const current = task.status === "PROCESSING" && task.progress?.current ? task.progress.current : null;
  return { percent, done, failed, total, current };
}

const HEADINGS: Record<ProgressKind, Record<string, string>> = {
  batch: {
    PENDING: "Queued",
    PROCESSING: "Generating audio",
    COMPLETED: "Finished",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
  },
  export: {
    PENDING: "Export queued",
    PROCESSING: "Exporting",
    COMPLETED: "Export finished",
    FAILED: "Export failed",
    CANCELLED: "Export cancelled",
  },
};

/** An export's stage in words, e.g. "encoding" → "Encoding the audiobook". */
export const EXPORT_STAGE_LABELS: Record<TaskStage, string> = {
  queued: "Waiting for the narrator to start",
  preparing: "Preparing the export",
  synthesizing: "Generating the missing audio",
  writing: "Writing the missing audio",
  assembling: "Assembling the book",
  encoding: "Encoding the audiobook",
  captions: "Writing the captions",
  packaging: "Packaging the files",
  finished: "Finishing",
};

/** The step line of an export: what it is doing, in words. */
function exportStep(task: TaskStatusResponse, cancelRequested: boolean): string {
  const status = task.status;
  if (!isTerminalStatus(status) && cancelRequested) return "Cancelling the export…";
  if (status === "PENDING") return "Waiting for the narrator to start…";
  if (status === "PROCESSING") return task.stage ? `${EXPORT_STAGE_LABELS[task.stage] ?? task.stage}…` : "Exporting…";
  if (status === "COMPLETED") return "The audiobook is ready.";
  if (status === "CANCELLED") return "Cancelled: no export was written.";
  return "The export stopped with an error.";
}

/** The progress panel of a Generate-all or export task, in every task state. */
export function GenerationProgress({
  kind = "batch",
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
  const { percent, done, failed, total, current } = progressNumbers(task, expectedTotal, kind);
  const isExport = kind === "export";

  let step: string;
  if (!task) step = fetchError ? `Could not read the task's progress: ${fetchError}` : "Starting…";
  else if (isExport) step = exportStep(task, cancelRequested);
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

  // The counts line: what is done, then ETA and elapsed time (and, for a batch, the speed), joined by " · ".
  const counts = [
    ...(isExport
      ? [
          running && task?.stage === "synthesizing" && total ? `${done} of ${total} segments generated` : null,
          failed ? `${failed} failed` : null,
        ]
      : [`${done} of ${total} completed${failed ? `, ${failed} failed` : ""}`]),
    eta ? <span data-testid="progress-eta">{eta}</span> : null,
    task?.elapsed_seconds != null ? `${formatDuration(task.elapsed_seconds)} elapsed` : null,
    !isExport && task?.realtime_factor != null && task.realtime_factor > 0
      ? `${(1 / task.realtime_factor).toFixed(1)}× real time`
      : null,
  ]
    .filter((part) => part !== null)
    .map((part, index) => (
      <span key={index}>
        {index ? " · " : ""}
        {part}
      </span>
    ));

  return (
    <section
      className={`progress-panel progress-${(status ?? "loading").toLowerCase()}`}
      aria-label={isExport ? "Export progress" : "Generation progress"}
      data-testid={isExport ? "export-progress" : "generation-progress"}
      data-status={status ?? "LOADING"}
      data-stage={task?.stage ?? undefined}
    >
      <div className="progress-head">
        <h2 className="progress-title" data-testid="progress-title">
          {task ? (running && cancelRequested ? "Cancelling" : HEADINGS[kind][status ?? ""] ?? status) : "Starting"}
        </h2>
        <span className="progress-percent" data-testid="progress-percent">
          {percent} %
        </span>
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={isExport ? "Export progress" : "Generate all progress"}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={isExport ? `${percent} percent` : `${percent} percent, ${done} of ${total} segments done`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-step" data-testid="progress-step" aria-live="polite">
        {step}
      </p>
      {detail && detail !== step ? <p className="progress-detail" data-testid="progress-detail">{detail}</p> : null}
      <p className="progress-counts" data-testid="progress-counts">
        {counts}
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
