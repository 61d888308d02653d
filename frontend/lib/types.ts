/**
 * Types of StoryFlow's REST API, as the browser sees it.
 *
 * The task types follow spec task 03.02.10 (`audio-generation-api.md`), with
 * StoryFlow's fifth task status `CANCELLED`. Fields added by the progress
 * issue (stage, step text, overall progress, ETA, timings, project tasks) are
 * optional: an older backend leaves them out and the editor falls back to
 * the spec's `progress` block.
 */

// ---------------------------------------------------------------- tasks (spec 03.02.10)

/** Lifecycle of a background TTS task: PENDING → PROCESSING → COMPLETED | FAILED | CANCELLED. */
export type TaskStatus = "PENDING" | "PROCESSING" | "COMPLETED" | "FAILED" | "CANCELLED";

/** The statuses after which a task never changes again. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ["COMPLETED", "FAILED", "CANCELLED"];

/** True for COMPLETED, FAILED and CANCELLED. */
export function isTerminalStatus(status: TaskStatus | undefined | null): boolean {
  return status != null && TERMINAL_STATUSES.includes(status);
}

/** 202 body of `POST /api/segments/{id}/generate-audio/`. */
export interface TaskResponse {
  task_id: string;
  segment_id: string;
  status: TaskStatus;
  message: string;
}

/** 202 body of `POST /api/projects/{id}/generate-all-audio/` when a batch was queued. */
export interface BulkTaskResponse {
  task_id: string;
  project_id: string;
  status: TaskStatus;
  total_segments: number;
  segments_to_process: number;
  message: string;
}

/**
 * 200 body of `POST /api/projects/{id}/generate-all-audio/` when every segment
 * was skipped (locked, already has audio, or empty): no task was started.
 */
export interface NoSegmentsToProcessResponse {
  message: string;
  total_segments: number;
  segments_to_process: 0;
  /** How many segments were skipped (StoryFlow addition). */
  skipped?: number;
}

/** Batch progress: `current` is the 1-based segment being worked on, `percentage` 0–100 (integer). */
export interface TaskProgress {
  current: number;
  total: number;
  percentage: number;
  current_segment_id?: string;
}

/** One segment finished by a task: `audio_url` is a URL path under `/media/`, `duration` in seconds. */
export interface CompletedSegmentAudio {
  segment_id: string;
  audio_url: string;
  duration: number;
}

/** One segment's failure. `segment_id` is null for a task-level failure that names no segment. */
export interface TaskError {
  segment_id: string | null;
  error: string;
}

/** Where a task is in its work (progress issue). */
export type TaskStage = "queued" | "preparing" | "synthesizing" | "writing" | "finished";

/** Whether a task generates one segment or a batch (progress issue). */
export type TaskKind = "segment" | "batch";

/**
 * Body of `GET /api/tasks/{task_id}/status/` (spec §3.2.3), plus the progress
 * issue's optional fields.
 */
export interface TaskStatusResponse {
  task_id: string;
  status: TaskStatus;
  progress: TaskProgress;
  completed_segments: CompletedSegmentAudio[];
  errors: TaskError[];

  // ---- progress issue (optional until the backend provides them) ----
  kind?: TaskKind;
  project_id?: string;
  /** The segment of a single-segment task; null for a batch. */
  segment_id?: string | null;
  /** The segments the task will process, in order. */
  segment_ids?: string[];
  stage?: TaskStage;
  /** Human text such as "Synthesizing segment 3 of 10 (chunk 2 of 4)". */
  current_step?: string;
  /** 0–100, float, weighted by characters: moves within a long segment. */
  overall_progress?: number;
  /** Estimated seconds left, or null while unknown. */
  eta_seconds?: number | null;
  /** Seconds since the task started running. */
  elapsed_seconds?: number;
  /** Seconds of audio generated so far. */
  audio_seconds?: number;
  /** Wall time ÷ audio time; below 1 is faster than real time. Null until known. */
  realtime_factor?: number | null;
  /** ISO 8601 timestamps, or null. */
  created_at?: string | null;
  started_at?: string | null;
  completed_at?: string | null;
}

/** Body of `GET /api/projects/{id}/tasks/`: the project's active and recent tasks, newest first. */
export interface ProjectTasksResponse {
  project_id: string;
  tasks: TaskStatusResponse[];
}

/** One line of `GET /api/tasks/{id}/logs/`. */
export interface TaskLogEntry {
  timestamp: string;
  level: string;
  message: string;
}

/** Body of `GET /api/tasks/{id}/logs/`. */
export interface TaskLogsResponse {
  task_id: string;
  logs: TaskLogEntry[];
}

// ---------------------------------------------------------------- projects and segments

/** A project in the list: no segments. `total_audio_duration` is in seconds. */
export interface Project {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  segment_count: number;
  total_audio_duration: number;
}

/** A project with its segments ordered by `sequence_index`. */
export interface ProjectDetail extends Project {
  segments: Segment[];
}

/**
 * One narrated unit (usually a paragraph). `audio_file` is a URL path such as
 * `/media/projects/<project>/audio/<segment>.wav`, or null before generation;
 * `audio_duration` is in seconds, or null.
 */
export interface Segment {
  id: string;
  project: string;
  sequence_index: number;
  text_content: string;
  is_locked: boolean;
  audio_file: string | null;
  audio_duration: number | null;
}

/** Body of `POST /api/segments/`. `sequence_index` defaults to the end of the project. */
export interface SegmentCreate {
  project: string;
  text_content?: string;
  sequence_index?: number;
  is_locked?: boolean;
}

/** Body of `PATCH /api/segments/{id}/`: any of the writable fields. */
export type SegmentUpdate = Partial<Pick<Segment, "text_content" | "is_locked" | "sequence_index">>;

/** Body of `POST /api/projects/import/`: one segment per blank-line separated paragraph. */
export interface StoryImport {
  title: string;
  text: string;
}

// ---------------------------------------------------------------- settings and voices

/** `GET/PATCH /api/settings/`: the voice id and the speed factor (0.5–2.0). */
export interface GlobalSettings {
  default_voice_id: string;
  tts_speed: number;
}

/** `GET /api/voices/`: the installed model's voices. */
export interface VoicesResponse {
  voices: string[];
  default_voice_id: string;
  model_available: boolean;
  model_variant: string | null;
}

/** Allowed speed range of the TTS engine. */
export const MIN_TTS_SPEED = 0.5;
export const MAX_TTS_SPEED = 2.0;
