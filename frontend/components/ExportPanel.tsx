"use client";
/**
 * The Export panel: choose a format (M4B, MP3, WAV, ACX) and whether to
 * generate missing audio, start the export (`POST /api/projects/{id}/export/`),
 * follow its task with the same progress panel as Generate all (stage, step,
 * %, ETA, Cancel), and, when it is done, download the book and its captions.
 * Below: the whole-book player and the past exports.
 *
 * A 409 that lists segments without audio is answered with how many, and an
 * offer to export again with "generate missing audio". A 409 because an
 * export is already running shows that export's progress instead.
 *
 * The task id lives in the timeline (so a reload re-attaches to a running
 * export, and segment badges follow the audio it generates); this panel gets
 * it as `taskId` and reports new tasks through `onStarted`.
 */
import { useEffect, useMemo, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";

import { useCancelTask, useDeleteExport, useExport, useExportProject, useExports, useTaskStatus } from "@/hooks/useApi";
import { queryKeys } from "@/hooks/queryKeys";
import { useTaskEvents } from "@/hooks/useTaskEvents";
import { activeTaskIdFromConflict, segmentsWithoutAudioFromConflict } from "@/lib/api";
import { countOf, errorMessage, formatBytes, formatDuration } from "@/lib/format";
import {
  EXPORT_FORMATS,
  isTerminalStatus,
  type ExportFormat,
  type Segment,
  type SegmentWithoutAudio,
} from "@/lib/types";
import { BookPlayer } from "./BookPlayer";
import { ExportLinks, ExportList } from "./ExportList";
import { GenerationProgress } from "./GenerationProgress";

/** Each format's label and what it gives. */
export const FORMAT_INFO: Record<ExportFormat, { label: string; help: string }> = {
  m4b: { label: "M4B", help: "audiobook with chapters (AAC)" },
  mp3: { label: "MP3", help: "one file, CBR with ID3 tags" },
  wav: { label: "WAV", help: "one file, PCM 16-bit" },
  acx: { label: "ACX", help: "zip of one MP3 per chapter, checked against ACX" },
};

/** "3 segments have" / "1 segment has". */
export function segmentsPhrase(count: number): string {
  return count === 1 ? "1 segment has" : `${count} segments have`;
}

export interface ExportPanelProps {
  projectId: string;
  /** The book's title (download file names, player label). */
  title: string;
  /** The project's segments in order (to count those without audio and to label them). */
  segments: Pick<Segment, "id" | "audio_file" | "text_content">[];
  /** The export task being followed, or null. */
  taskId: string | null;
  /** A new export task (or the one already running) should be followed; `expected` = segments it may generate. */
  onStarted: (taskId: string, expected: string[]) => void;
  /** The finished task's panel was dismissed. */
  onDismiss: () => void;
}

/** The Export panel with its progress, result, player and past exports. */
export function ExportPanel({ projectId, title, segments, taskId, onStarted, onDismiss }: ExportPanelProps) {
  const client = useQueryClient();
  const [format, setFormat] = useState<ExportFormat>("m4b");
  const [generateMissing, setGenerateMissing] = useState(false);
  const [missing, setMissing] = useState<SegmentWithoutAudio[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [cancelRequested, setCancelRequested] = useState<string | null>(null);
  const [listeningId, setListeningId] = useState<string | null>(null);

  const startExport = useExportProject(projectId);
  const cancelTask = useCancelTask();
  const deleteExport = useDeleteExport(projectId);
  const exportsQuery = useExports(projectId);
  const exports = useMemo(() => exportsQuery.data ?? [], [exportsQuery.data]);

  const statusQuery = useTaskStatus(taskId);
  const status = statusQuery.data;
  const running = !!taskId && !isTerminalStatus(status?.status) && !statusQuery.error;
  useTaskEvents(taskId, running);

  // When the task ends: re-read the exports (a new one, or none after a cancel).
  const ended = taskId && status && isTerminalStatus(status.status) ? `${taskId}:${status.status}` : null;
  useEffect(() => {
    if (ended) client.invalidateQueries({ queryKey: queryKeys.exports(projectId) });
  }, [ended, client, projectId]);

  const resultId = status?.status === "COMPLETED" ? status.result?.export_id ?? null : null;
  const finishedQuery = useExport(projectId, resultId);
  const finished = finishedQuery.data ?? exports.find((entry) => entry.id === resultId);

  const playable = exports.filter((entry) => entry.format !== "acx");
  const listening =
    playable.find((entry) => entry.id === listeningId) ??
    (finished && finished.format !== "acx" ? finished : undefined) ??
    playable[0];

  const withoutAudio = segments.filter((segment) => !segment.audio_file && segment.text_content.trim());
  const positionOf = (segmentId: string) => segments.findIndex((segment) => segment.id === segmentId) + 1;

  const start = async (withMissing: boolean) => {
    setProblem(null);
    setNotice(null);
    setMissing(null);
    try {
      const answer = await startExport.mutateAsync({ format, generateMissing: withMissing });
      onStarted(answer.task_id, withMissing ? withoutAudio.map((segment) => segment.id) : []);
    } catch (error) {
      const listed = segmentsWithoutAudioFromConflict(error);
      const runningId = activeTaskIdFromConflict(error);
      if (listed) setMissing(listed);
      else if (runningId) {
        onStarted(runningId, []);
        setNotice("An export was already running for this project; showing its progress.");
      } else setProblem(`Could not start the export: ${errorMessage(error)}`);
    }
  };

  const cancel = () => {
    if (!taskId) return;
    setCancelRequested(taskId);
    cancelTask.mutate(taskId, { onError: (error) => setProblem(`Could not cancel: ${error.message}`) });
  };

  const missingList = missing
    ?.map((entry) => positionOf(entry.segment_id) || entry.sequence_index + 1)
    .sort((a, b) => a - b);

  return (
    <>
      <section className="panel export-panel" aria-labelledby="export-heading" data-testid="export-panel">
        <h2 id="export-heading">Export the audiobook</h2>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            start(generateMissing);
          }}
        >
          <fieldset className="format-choice">
            <legend>Format</legend>
            {EXPORT_FORMATS.map((value) => (
              <label key={value} className="check format-option">
                <input
                  type="radio"
                  name="export-format"
                  value={value}
                  checked={format === value}
                  onChange={() => setFormat(value)}
                />
                <span>
                  <strong>{FORMAT_INFO[value].label}</strong> <span className="muted small">{FORMAT_INFO[value].help}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <label className="check">
            <input type="checkbox" checked={generateMissing} onChange={(event) => setGenerateMissing(event.target.checked)} />
            Generate missing audio
          </label>
          {withoutAudio.length && !generateMissing && !missing ? (
            <p className="muted small" data-testid="export-missing-hint">
              {segmentsPhrase(withoutAudio.length)} no audio yet.
            </p>
          ) : null}
          <div className="form-row">
            <button
              type="submit"
              className="button primary"
              disabled={running || startExport.isPending || !segments.length}
            >
              {startExport.isPending ? "Starting…" : "Export"}
            </button>
          </div>
        </form>

        {missing ? (
          <div className="notice" role="alert" data-testid="export-missing">
            <p>
              {segmentsPhrase(missing.length)} no audio yet
              {missingList?.length ? ` (segment${missingList.length === 1 ? "" : "s"} ${missingList.join(", ")})` : ""}, so the
              book cannot be exported as it is.
            </p>
            <button
              type="button"
              className="button small primary"
              onClick={() => {
                setGenerateMissing(true);
                start(true);
              }}
              disabled={startExport.isPending}
            >
              Export with generate missing audio
            </button>
          </div>
        ) : null}
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        {problem ? (
          <p className="inline-error" role="alert" data-testid="export-error">
            {problem}
          </p>
        ) : null}
      </section>

      {taskId ? (
        <GenerationProgress
          kind="export"
          task={status}
          segmentLabel={(segmentId) => {
            const position = positionOf(segmentId);
            return position ? `Segment ${position}` : "A deleted segment";
          }}
          onCancel={cancel}
          cancelRequested={cancelRequested === taskId}
          fetchError={statusQuery.error?.message ?? null}
          onDismiss={onDismiss}
        />
      ) : null}

      {status?.status === "COMPLETED" && (finished || status.result) ? (
        <section className="panel export-result" aria-label="Finished export" data-testid="export-result">
          {finished ? (
            <>
              <p>
                <strong>{finished.format.toUpperCase()}</strong> ready: {formatDuration(finished.duration)} ·{" "}
                {formatBytes(finished.size_bytes)} · {countOf(finished.chapters.length, "chapter")}
              </p>
              <ExportLinks book={finished} bookTitle={title} />
            </>
          ) : (
            <a href={status.result!.url} download data-testid="export-download">
              Download
            </a>
          )}
        </section>
      ) : null}

      {listening ? <BookPlayer book={listening} title={title} /> : null}

      <section className="panel" aria-labelledby="exports-heading">
        <h2 id="exports-heading">Past exports</h2>
        {exportsQuery.isError ? (
          <p className="inline-error small">Could not load the exports: {exportsQuery.error.message}</p>
        ) : exportsQuery.isPending ? (
          <p className="muted small">Loading…</p>
        ) : (
          <ExportList
            exports={exports}
            bookTitle={title}
            listeningId={listening?.id ?? null}
            onListen={setListeningId}
            onDelete={(exportId) => deleteExport.mutateAsync(exportId)}
          />
        )}
      </section>
    </>
  );
}
