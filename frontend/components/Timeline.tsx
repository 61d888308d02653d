"use client";
/**
 * The project timeline: segments in sequence order with their editors and
 * chapter headers, Generate all with its options and progress panel, Play all
 * (paced like the exported book), and beside them the chapter list, the
 * Export panel with the book player and past exports, and the book's pacing.
 *
 * Task tracking: every task the editor starts (or finds running) is
 * "tracked". Each tracked task's status is polled every 2 s until it ends
 * (plus live events when the backend streams them). Segments finished by a
 * task get their audio at once, from the task's `completed_segments`, before
 * the project is re-read. Tracked tasks that may still run are remembered in
 * localStorage, and the project's task list (`GET /api/projects/{id}/tasks/`)
 * is read on load, so a reload re-attaches to a running batch or export.
 *
 * Play all plays the segments that have audio one after another with the
 * project's pauses between them (`lib/playback.ts`): lead-in, paragraph
 * pause, chapter pause before a chapter start, and tail.
 *
 * Issue 9: the narrator voice and speed of the project (beside the pacing)
 * and of each segment, a link to the pronunciation lexicon, and Generate
 * all's notice with how many segments miss audio and how many are out of date.
 */
import Link from "next/link";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";

import {
  useCancelTask,
  useGenerateAllAudio,
  useGenerateSegmentAudio,
  useProject,
  useProjectTasks,
  useSettings,
  useTaskStatuses,
  useUpdateSegment,
} from "@/hooks/useApi";
import { queryKeys } from "@/hooks/queryKeys";
import { useTaskEvents } from "@/hooks/useTaskEvents";
import * as api from "@/lib/api";
import { countOf, errorMessage, formatDuration, formatSeconds } from "@/lib/format";
import { generateAllNotice, segmentsToGenerate } from "@/lib/generation";
import { moveChanges, renumber, sortSegments, type IndexChange } from "@/lib/order";
import { playAllPlan, planTimes, startsChapter, type PauseKind, type PlayPlan } from "@/lib/playback";
import { segmentState } from "@/lib/segmentState";
import { loadTrackedTasks, saveTrackedTasks, type TrackedTask } from "@/lib/taskMemory";
import { isTerminalStatus, type ProjectDetail, type Segment, type TaskStatusResponse } from "@/lib/types";
import { ChapterList } from "./ChapterList";
import { ExportPanel } from "./ExportPanel";
import { GenerationProgress } from "./GenerationProgress";
import { PacingForm } from "./PacingForm";
import { ProjectVoicePanel } from "./ProjectVoicePanel";
import { SegmentCard } from "./SegmentCard";
import type { InheritedVoice } from "./VoicePicker";

/** A task found on the server: its `kind` when given, else guessed from its segment id or its `tts_batch_` prefix. */
function kindOf(task: TaskStatusResponse): TrackedTask["kind"] {
  if (task.kind) return task.kind;
  if (task.segment_id) return "segment";
  return task.task_id.startsWith("tts_batch_") ? "batch" : "segment";
}

/** The timeline editor of one project. */
export function Timeline({ projectId }: { projectId: string }) {
  const client = useQueryClient();
  const projectQuery = useProject(projectId);
  const project = projectQuery.data;
  const segments = useMemo(() => sortSegments(project?.segments ?? []), [project]);

  // ------------------------------------------------------------ task tracking
  const [tracked, setTracked] = useState<TrackedTask[]>([]);
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => {
    setTracked(loadTrackedTasks(projectId));
    setHydrated(true);
  }, [projectId]);

  const track = useCallback((task: TrackedTask) => {
    setTracked((previous) =>
      previous.some((known) => known.taskId === task.taskId) ? previous : [...previous, task],
    );
  }, []);

  // Re-attach to tasks the server says are running (progress issue endpoint; 404 on older backends).
  const projectTasks = useProjectTasks(projectId);
  useEffect(() => {
    const tasks = projectTasks.data?.tasks;
    if (!tasks) return;
    const active = tasks.filter((task) => !isTerminalStatus(task.status)).reverse(); // oldest first
    for (const task of active) {
      if (!client.getQueryData(queryKeys.task(task.task_id))) client.setQueryData(queryKeys.task(task.task_id), task);
      track({
        taskId: task.task_id,
        kind: kindOf(task),
        expected: task.segment_ids ?? (task.segment_id ? [task.segment_id] : []),
      });
    }
  }, [projectTasks.data, client, track]);

  const statusQueries = useTaskStatuses(tracked.map((task) => task.taskId));
  const statuses: (TaskStatusResponse | undefined)[] = statusQueries.map((query) => query.data);
  const signature = statusQueries
    .map((query, index) => {
      const data = query.data;
      return `${tracked[index]?.taskId}:${data?.status}:${data?.completed_segments?.length}:${data?.errors?.length}:${query.status}`;
    })
    .join("|");

  const expectedByTask = useMemo(
    () => Object.fromEntries(tracked.map((task) => [task.taskId, task.expected])),
    [tracked],
  );
  const knownStatuses = statuses.filter((status): status is TaskStatusResponse => !!status);

  // Apply finished segments at once; re-read the project when a task ends;
  // forget tasks that ended or that the server no longer knows.
  const finishedSeen = useRef(new Set<string>());
  useEffect(() => {
    const latest = new Map<string, { audio_url: string; duration: number }>();
    for (const status of knownStatuses) {
      for (const done of status.completed_segments ?? []) latest.set(done.segment_id, done);
    }
    if (latest.size) {
      client.setQueryData<ProjectDetail>(queryKeys.project(projectId), (current) => {
        if (!current) return current;
        let changed = false;
        const updated = current.segments.map((segment) => {
          const done = latest.get(segment.id);
          if (!done || (segment.audio_file === done.audio_url && segment.audio_duration === done.duration)) return segment;
          changed = true;
          return { ...segment, audio_file: done.audio_url, audio_duration: done.duration };
        });
        return changed ? { ...current, segments: updated } : current;
      });
    }
    let ended = false;
    for (const status of knownStatuses) {
      if (isTerminalStatus(status.status) && !finishedSeen.current.has(status.task_id)) {
        finishedSeen.current.add(status.task_id);
        ended = true;
      }
    }
    if (ended) {
      client.invalidateQueries({ queryKey: queryKeys.project(projectId) });
      client.invalidateQueries({ queryKey: queryKeys.projects });
    }
    const gone = new Set(
      tracked
        .filter((_, index) => {
          const error = statusQueries[index]?.error;
          return error instanceof api.ApiError && error.status === 404;
        })
        .map((task) => task.taskId),
    );
    if (gone.size) setTracked((previous) => previous.filter((task) => !gone.has(task.taskId)));
    if (hydrated) {
      saveTrackedTasks(
        projectId,
        tracked.filter((task, index) => !gone.has(task.taskId) && !isTerminalStatus(statuses[index]?.status)),
      );
    }
    // `signature` sums up every status change that matters here.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [signature, hydrated, projectId]);

  // ------------------------------------------------------------ batch panel
  const [dismissed, setDismissed] = useState<Set<string>>(new Set());
  const batchIndex = (() => {
    for (let index = tracked.length - 1; index >= 0; index -= 1) {
      if (tracked[index].kind === "batch" && !dismissed.has(tracked[index].taskId)) return index;
    }
    return -1;
  })();
  const batch = batchIndex >= 0 ? tracked[batchIndex] : null;
  const batchStatus = batchIndex >= 0 ? statuses[batchIndex] : undefined;
  const batchQuery = batchIndex >= 0 ? statusQueries[batchIndex] : undefined;
  const batchRunning = !!batch && !isTerminalStatus(batchStatus?.status) && !batchQuery?.error;
  useTaskEvents(batch?.taskId ?? null, batchRunning);

  const [cancelRequested, setCancelRequested] = useState<Set<string>>(new Set());
  const cancelTask = useCancelTask();
  const cancelBatch = () => {
    if (!batch) return;
    setCancelRequested((previous) => new Set(previous).add(batch.taskId));
    cancelTask.mutate(batch.taskId, {
      onError: (error) => setNotice(`Could not cancel: ${error.message}`),
    });
  };

  // ------------------------------------------------------------ export task
  const exportTaskId = tracked.findLast((task) => task.kind === "export" && !dismissed.has(task.taskId))?.taskId ?? null;

  // ------------------------------------------------------------ generate
  const [skipLocked, setSkipLocked] = useState(true);
  const [forceRegenerate, setForceRegenerate] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const generateAll = useGenerateAllAudio(projectId);
  const generateSegment = useGenerateSegmentAudio();

  const startGenerateAll = async () => {
    setNotice(null);
    const expected = segmentsToGenerate(segments, { skipLocked, forceRegenerate });
    try {
      const answer = await generateAll.mutateAsync({ skipLocked, forceRegenerate });
      if (api.isBulkTaskStarted(answer)) {
        track({ taskId: answer.task_id, kind: "batch", expected });
        const started = generateAllNotice(answer);
        if (started) setNotice(started);
      } else {
        setNotice(`Nothing to generate: every segment is locked, empty or already has up-to-date audio (${answer.total_segments} segments). Tick "Regenerate existing" to redo them.`);
      }
    } catch (error) {
      const running = api.activeTaskIdFromConflict(error);
      if (running) {
        track({ taskId: running, kind: "batch", expected: [] });
        setNotice("A batch was already running for this project; showing its progress.");
      } else {
        setNotice(`Generate all failed: ${errorMessage(error)}`);
      }
    }
  };

  const startGenerateSegment = async (segment: Segment) => {
    setNotice(null);
    try {
      const answer = await generateSegment.mutateAsync(segment.id);
      track({ taskId: answer.task_id, kind: "segment", expected: [segment.id] });
    } catch (error) {
      setNotice(`Could not generate segment ${segments.indexOf(segment) + 1}: ${errorMessage(error)}`);
    }
  };

  // ------------------------------------------------------------ edit and order
  const updateSegment = useUpdateSegment(projectId);
  const settings = useSettings();
  const [orderBusy, setOrderBusy] = useState(false);

  /** Save new `sequence_index` values, one PATCH per segment whose position changed. */
  const saveOrder = async (changes: IndexChange[]) => {
    for (const change of changes) await api.updateSegment(change.segmentId, { sequence_index: change.sequenceIndex });
  };

  /**
   * Run a change to the segment list with the order controls disabled; on failure show
   * `"<failure>: <message>"`; always reload the project afterwards (and the project list if `listChanged`).
   */
  const changeSegmentList = async (failure: string, work: () => Promise<void>, listChanged = false) => {
    setOrderBusy(true);
    try {
      await work();
    } catch (error) {
      setNotice(`${failure}: ${errorMessage(error)}`);
    } finally {
      await client.invalidateQueries({ queryKey: queryKeys.project(projectId) });
      if (listChanged) client.invalidateQueries({ queryKey: queryKeys.projects });
      setOrderBusy(false);
    }
  };

  const applyOrder = async (changes: IndexChange[]) => {
    if (!changes.length) return;
    // Show the new order at once; the reload after saving confirms it.
    client.setQueryData<ProjectDetail>(queryKeys.project(projectId), (current) => {
      if (!current) return current;
      const next = new Map(changes.map((change) => [change.segmentId, change.sequenceIndex]));
      return {
        ...current,
        segments: current.segments.map((segment) =>
          next.has(segment.id) ? { ...segment, sequence_index: next.get(segment.id)! } : segment,
        ),
      };
    });
    await changeSegmentList("Could not save the new order", () => saveOrder(changes));
  };

  const addSegmentAfter = (position: number) =>
    changeSegmentList("Could not add a segment", async () => {
      const created = await api.createSegment({ project: projectId, text_content: "" });
      const ordered = [...segments];
      ordered.splice(position + 1, 0, created);
      await saveOrder(renumber(ordered));
    });

  const removeSegment = (segment: Segment) =>
    changeSegmentList("Could not delete the segment", () => api.deleteSegment(segment.id), true);

  const toggleLock = (segment: Segment) =>
    updateSegment.mutate(
      { segmentId: segment.id, changes: { is_locked: !segment.is_locked } },
      { onError: (error) => setNotice(`Could not change the lock: ${error.message}`) },
    );

  // ------------------------------------------------------------ audio and Play all
  const audioElements = useRef(new Map<string, HTMLAudioElement>());
  const playable = segments.filter((segment) => segment.audio_file);
  /** What Play all is doing: waiting before a segment, playing it, or the tail after the last. */
  const [playback, setPlayback] = useState<{
    phase: "pause" | "playing" | "tail";
    segmentId: string | null;
    seconds: number;
    pauseKind?: PauseKind;
  } | null>(null);
  const run = useRef<{ plan: PlayPlan; index: number; timer: ReturnType<typeof setTimeout> | null } | null>(null);
  const playingId = playback?.phase === "playing" ? playback.segmentId : null;

  const clearRun = () => {
    if (run.current?.timer) clearTimeout(run.current.timer);
    run.current = null;
  };
  const stopPlaying = () => {
    clearRun();
    for (const element of audioElements.current.values()) element.pause();
    setPlayback(null);
  };
  useEffect(() => () => clearRun(), []);

  /** Step `index` of the current run: its pause, then its audio; past the last step, the tail. */
  const runStep = (index: number) => {
    const current = run.current;
    if (!current) return;
    current.index = index;
    const step = current.plan.steps[index];
    if (!step) {
      setPlayback({ phase: "tail", segmentId: null, seconds: current.plan.tail });
      current.timer = setTimeout(() => {
        if (run.current === current) stopPlaying();
      }, current.plan.tail * 1000);
      return;
    }
    setPlayback({ phase: "pause", segmentId: step.segmentId, seconds: step.pauseBefore, pauseKind: step.pauseKind });
    audioElements.current.get(step.segmentId)?.closest("li")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
    current.timer = setTimeout(() => {
      if (run.current !== current) return;
      current.timer = null;
      const element = audioElements.current.get(step.segmentId);
      if (!element) return runStep(index + 1);
      setPlayback({ phase: "playing", segmentId: step.segmentId, seconds: 0 });
      element.currentTime = 0;
      element.play().catch(() => {
        if (run.current === current) stopPlaying();
      });
    }, step.pauseBefore * 1000);
  };

  /** Play all from position `fromIndex` (0-based) of the timeline. */
  const playFrom = (fromIndex: number) => {
    stopPlaying();
    if (!project) return;
    const plan = playAllPlan(segments, project, fromIndex);
    if (!plan.steps.length) return;
    run.current = { plan, index: 0, timer: null };
    runStep(0);
  };
  const onAudioEnded = (segmentId: string) => {
    const current = run.current;
    if (!current || current.timer || current.plan.steps[current.index]?.segmentId !== segmentId) return;
    runStep(current.index + 1);
  };

  const audioVersion = new Map<string, string>();
  for (const status of knownStatuses) {
    for (const done of status.completed_segments ?? []) audioVersion.set(done.segment_id, status.task_id);
  }

  /** Audio URL with a version suffix: the path stays the same when a segment is regenerated. */
  const audioSrc = (segment: Segment): string | null => {
    if (!segment.audio_file) return null;
    const version =
      audioVersion.get(segment.id) ?? (segment.audio_duration != null ? segment.audio_duration.toFixed(3) : "0");
    return `${segment.audio_file}?v=${version}`;
  };

  // ------------------------------------------------------------ render
  if (projectQuery.isPending) return <p className="muted">Loading the project…</p>;
  if (projectQuery.isError || !project) {
    return (
      <div className="panel">
        <p className="inline-error" role="alert">
          Could not load this project: {projectQuery.error?.message ?? "not found"}
        </p>
        <Link href="/">Back to projects</Link>
      </div>
    );
  }

  /** What a segment's null voice/speed stands for: the project's, else the global settings'. */
  const segmentDefault: InheritedVoice = {
    voice: project.voice ?? settings.data?.default_voice_id ?? "",
    speed: project.speed ?? settings.data?.tts_speed ?? 1,
    from: project.voice ? "the project" : "Settings",
  };
  const staleCount = segments.filter((segment) => segment.audio_stale).length;

  const totalAudio = segments.reduce((sum, segment) => sum + (segment.audio_duration ?? 0), 0);
  const withAudio = playable.length;
  const fullPlan = playAllPlan(segments, project);
  const pacedTotal = planTimes(fullPlan, Object.fromEntries(segments.map((segment) => [segment.id, segment.audio_duration]))).total;
  const chapters = project.chapters ?? [];
  const chapterNumbers = new Map<string, number>();
  {
    let count = 0;
    for (const segment of segments) {
      if (startsChapter(segment)) count += 1;
      chapterNumbers.set(segment.id, startsChapter(segment) ? count : count + 1);
    }
  }
  const positionOf = (segmentId: string) => segments.findIndex((segment) => segment.id === segmentId) + 1;
  const jumpTo = (segmentId: string) => {
    const element = document.getElementById(`segment-${segmentId}`);
    if (!element) return;
    element.scrollIntoView({ block: "start", behavior: "smooth" });
    element.focus({ preventScroll: true });
    element.classList.remove("segment-flash");
    void element.offsetWidth; // restart the animation
    element.classList.add("segment-flash");
  };
  const labelOf = (segmentId: string) => {
    const position = positionOf(segmentId);
    return position ? `Segment ${position}` : "A deleted segment";
  };

  const playLabel = (() => {
    if (!playback) return null;
    if (playback.phase === "tail") return `Tail: ${formatSeconds(playback.seconds)} of silence`;
    const label = `${labelOf(playback.segmentId ?? "").toLowerCase()} of ${segments.length}`;
    if (playback.phase === "playing") return `Playing ${label}`;
    const what = playback.pauseKind === "lead-in" ? "Lead-in" : playback.pauseKind === "chapter" ? "Chapter pause" : "Paragraph pause";
    return `${what} (${formatSeconds(playback.seconds)}) before ${label}`;
  })();

  return (
    <div className="timeline">
      <div className="page-head">
        <div>
          <Link href="/" className="back">
            ← Projects
          </Link>
          <h1 data-testid="project-title">{project.title}</h1>
          {project.author ? (
            <p className="byline" data-testid="project-author">
              by {project.author}
            </p>
          ) : null}
          <p className="muted" data-testid="project-summary">
            {segments.length} segments · {withAudio} with audio · {formatDuration(totalAudio)} of narration
            {chapters.length ? ` · ${countOf(chapters.length, "chapter")}` : ""}
            {staleCount ? ` · ${staleCount} out of date` : ""}
          </p>
          <nav className="project-links" aria-label="Project">
            <Link href={`/projects/${projectId}/lexicon`}>Pronunciation lexicon</Link>
          </nav>
        </div>
      </div>

      <section className="toolbar panel" aria-label="Generate and play">
        <div className="toolbar-row">
          <button
            type="button"
            className="button primary"
            onClick={startGenerateAll}
            disabled={batchRunning || generateAll.isPending || !segments.length}
          >
            {generateAll.isPending ? "Starting…" : "Generate all"}
          </button>
          <label className="check">
            <input type="checkbox" checked={skipLocked} onChange={(event) => setSkipLocked(event.target.checked)} />
            Skip locked
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={forceRegenerate}
              onChange={(event) => setForceRegenerate(event.target.checked)}
            />
            Regenerate existing
          </label>
          <span className="spacer" />
          {playback ? (
            <button type="button" className="button" onClick={stopPlaying}>
              Stop
            </button>
          ) : (
            <button
              type="button"
              className="button"
              onClick={() => playFrom(0)}
              disabled={!withAudio}
              title={withAudio ? `${formatDuration(pacedTotal)} with the book's pauses` : "No segment has audio yet"}
            >
              Play all
            </button>
          )}
        </div>
        {playback?.phase === "playing" ? (
          <p className="muted" data-testid="now-playing">
            {playLabel}
          </p>
        ) : playback ? (
          <p className="muted" data-testid="play-pause">
            {playLabel}
          </p>
        ) : null}
        {notice ? (
          <p className="notice" role="status" data-testid="notice">
            {notice}
          </p>
        ) : null}
      </section>

      {batch ? (
        <GenerationProgress
          task={batchStatus}
          expectedTotal={batch.expected.length}
          segmentLabel={labelOf}
          onCancel={cancelBatch}
          cancelRequested={cancelRequested.has(batch.taskId)}
          fetchError={batchQuery?.error?.message ?? null}
          onDismiss={() => setDismissed((previous) => new Set(previous).add(batch.taskId))}
        />
      ) : null}

      <div className="timeline-layout">
        <div className="timeline-main">
          {segments.length ? (
            <ol className="segments" aria-label="Segments">
              {segments.map((segment, index) => (
                <SegmentCard
                  key={segment.id}
                  segment={segment}
                  position={index + 1}
                  count={segments.length}
                  state={segmentState(segment, knownStatuses, expectedByTask)}
                  audioSrc={audioSrc(segment)}
                  playing={playingId === segment.id}
                  orderBusy={orderBusy}
                  chapterNumber={chapterNumbers.get(segment.id) ?? 1}
                  onChapterChange={(title) =>
                    updateSegment.mutateAsync({ segmentId: segment.id, changes: { chapter_title: title } })
                  }
                  onSave={(text, ifMatch) =>
                    updateSegment.mutateAsync({ segmentId: segment.id, changes: { text_content: text }, ifMatch })
                  }
                  onToggleLock={() => toggleLock(segment)}
                  onMove={(step) => applyOrder(moveChanges(segments, index, step))}
                  onAddBelow={() => addSegmentAfter(index)}
                  onDelete={() => removeSegment(segment)}
                  onGenerate={() => startGenerateSegment(segment)}
                  inheritedVoice={segmentDefault}
                  onVoiceSave={(choice) => updateSegment.mutateAsync({ segmentId: segment.id, changes: choice })}
                  audioRef={(element) => {
                    if (element) audioElements.current.set(segment.id, element);
                    else audioElements.current.delete(segment.id);
                  }}
                  onAudioEnded={() => onAudioEnded(segment.id)}
                />
              ))}
            </ol>
          ) : (
            <div className="panel empty">
              <p>This project has no segments yet.</p>
            </div>
          )}
          <div className="timeline-foot">
            <button type="button" className="button" onClick={() => addSegmentAfter(segments.length - 1)} disabled={orderBusy}>
              Add segment
            </button>
          </div>
        </div>

        <aside className="timeline-side" aria-label="Book">
          <ChapterList
            chapters={chapters}
            positionOf={positionOf}
            onJump={jumpTo}
            onPlayFrom={withAudio ? (segmentId) => playFrom(positionOf(segmentId) - 1) : undefined}
          />
          <ExportPanel
            projectId={projectId}
            title={project.title}
            segments={segments}
            taskId={exportTaskId}
            onStarted={(taskId, expected) => track({ taskId, kind: "export", expected })}
            onDismiss={() => exportTaskId && setDismissed((previous) => new Set(previous).add(exportTaskId))}
          />
          <ProjectVoicePanel project={project} />
          <PacingForm project={project} />
        </aside>
      </div>
    </div>
  );
}
