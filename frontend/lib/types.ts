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
  /** Issue 9: how many of `segments_to_process` have no audio yet. */
  segments_missing_audio?: number;
  /** Issue 9: how many of `segments_to_process` have audio that is out of date (`audio_stale`); they are regenerated too. */
  segments_stale?: number;
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

/**
 * Where a task is in its work (progress issue). Export tasks (issue 8) add
 * "assembling", "encoding", "captions" and "packaging".
 */
export type TaskStage =
  | "queued"
  | "preparing"
  | "synthesizing"
  | "writing"
  | "assembling"
  | "encoding"
  | "captions"
  | "packaging"
  | "finished";

/** Whether a task generates one segment, a batch, or exports a whole book (issue 8). */
export type TaskKind = "segment" | "batch" | "export";

/** What a finished task produced: for a COMPLETED export, the new export's id and its file's URL path. */
export interface TaskResult {
  export_id: string;
  url: string;
}

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
  /** Set when an export task completes (issue 8); null otherwise. */
  result?: TaskResult | null;
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

/**
 * A project's pacing (issue 8), all in seconds, each 0–10: the silence
 * between two paragraphs, before a new chapter, before the first segment
 * (lead-in) and after the last one (tail). Used by export and by Play all.
 */
export interface Pacing {
  paragraph_pause: number;
  chapter_pause: number;
  lead_in: number;
  tail: number;
}

/** The backend's default pacing, in seconds (the model's field defaults). */
export const DEFAULT_PACING: Readonly<Pacing> = { paragraph_pause: 0.6, chapter_pause: 2.0, lead_in: 0.75, tail: 2.0 };

/** Allowed range of each pause, in seconds. */
export const MIN_PAUSE_SECONDS = 0;
export const MAX_PAUSE_SECONDS = 10;

/**
 * A project in the list: no segments. `total_audio_duration` is in seconds; `author` is "" when unknown.
 * `voice` is a voice id or a blend (`"jf_alpha:0.6+jm_kumo:0.4"`), null = `GlobalSettings.default_voice_id`;
 * `speed` is a factor from 0.5 to 2.0, null = `GlobalSettings.tts_speed` (issue 9).
 */
export interface Project extends Pacing {
  id: string;
  title: string;
  author: string;
  created_at: string;
  updated_at: string;
  segment_count: number;
  total_audio_duration: number;
  voice: string | null;
  speed: number | null;
}

/** One chapter of a project: the segment that starts it (the segment's `chapter_title`). */
export interface ProjectChapter {
  title: string;
  segment_id: string;
  sequence_index: number;
}

/** A project with its segments ordered by `sequence_index`, and its chapters in reading order. */
export interface ProjectDetail extends Project {
  segments: Segment[];
  chapters: ProjectChapter[];
}

/**
 * Body of `PATCH /api/projects/{id}/`: any of these (pauses in seconds, 0–10; `voice`/`speed` null =
 * inherit the global settings). A bad voice is a 400 `{"voice": ["..."]}`.
 */
export type ProjectUpdate = Partial<Pick<Project, "title" | "author" | "voice" | "speed"> & Pacing>;

/** One sentence's timing in a segment's audio: `start`/`end` in seconds from the start of that segment's WAV. */
export interface Cue {
  start: number;
  end: number;
  text: string;
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
  /** Set when this segment starts a chapter of that title (the segment itself is narrated); null otherwise. */
  chapter_title: string | null;
  /** Sentence timings of the current audio (read-only); [] without audio. */
  cues: Cue[];
  /** Voice id or blend for this segment; null = the project's voice (issue 9). */
  voice: string | null;
  /** Speed factor 0.5–2.0 for this segment; null = the project's speed (issue 9). */
  speed: number | null;
  /**
   * Read-only (issue 9): the audio exists but was made from other spoken text, voice, speed,
   * pronunciation rules or model than the segment has now. False without audio.
   */
  audio_stale: boolean;
  /**
   * Read-only (issue 11): the segment's ETag, e.g. `"v3"` (quotes included), as the `ETag` header
   * gives it. It changes with every write of the segment's text, lock, position, chapter title,
   * voice or speed (not when audio is generated). Send it as `If-Match` to save only if nobody
   * changed the segment since; an older backend leaves it out.
   */
  etag?: string;
}

/** Body of `POST /api/segments/`. `sequence_index` defaults to the end of the project. */
export interface SegmentCreate {
  project: string;
  text_content?: string;
  sequence_index?: number;
  is_locked?: boolean;
}

/**
 * Body of `PATCH /api/segments/{id}/`: any of the writable fields. A
 * `chapter_title` marks the segment as a chapter start; null (or "") unmarks it.
 */
export type SegmentUpdate = Partial<
  Pick<Segment, "text_content" | "is_locked" | "sequence_index" | "chapter_title" | "voice" | "speed">
>;

/**
 * JSON body of `POST /api/projects/import/`: one segment per blank-line
 * separated paragraph; `# x` / `## x` headings start chapters.
 */
export interface StoryImport {
  title: string;
  text: string;
}

/**
 * Multipart body of `POST /api/projects/import/` (issue 8): a `.txt`, `.md`
 * or `.epub` file of at most {@link MAX_IMPORT_FILE_BYTES}, and an optional
 * title (otherwise the book's own title, e.g. the EPUB's metadata).
 */
export interface FileImport {
  file: File;
  title?: string;
}

/** File types the import accepts, by extension. */
export const IMPORT_FILE_EXTENSIONS = [".txt", ".md", ".epub"] as const;

/** The largest file the import accepts: 50 MB. */
export const MAX_IMPORT_FILE_BYTES = 50 * 1024 * 1024;

// ---------------------------------------------------------------- exports (issue 8)

/** An audiobook export format: M4B (AAC, chapters), MP3 (CBR, ID3), WAV (PCM 16-bit), ACX (zip of one MP3 per chapter). */
export type ExportFormat = "m4b" | "mp3" | "wav" | "acx";

/** Every export format, in the order the editor offers them. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["m4b", "mp3", "wav", "acx"];

/** 202 body of `POST /api/projects/{id}/export/`. */
export interface ExportTaskResponse {
  task_id: string;
  project_id: string;
  format: ExportFormat;
  status: TaskStatus;
  message: string;
}

/** A segment without audio, as listed by the export's 409. */
export interface SegmentWithoutAudio {
  segment_id: string;
  sequence_index: number;
}

/** A chapter of an exported book: `start`/`end` in seconds from the start of the book's audio. */
export interface ExportChapter {
  title: string;
  start: number;
  end: number;
}

/**
 * One written export (`GET /api/projects/{id}/exports/`): `url` and the
 * caption URLs are paths under `/media/`; `size_bytes` of the main file;
 * `duration` in seconds; `report` is the ACX report (ACX exports only).
 */
export interface AudiobookExport {
  id: string;
  project_id: string;
  format: ExportFormat;
  url: string;
  size_bytes: number;
  duration: number;
  chapters: ExportChapter[];
  captions: { srt: string | null; vtt: string | null };
  created_at: string;
  task_id: string | null;
  report: AcxReport | null;
}

/**
 * One ACX check of one file (`_check` in `backend/audiobook/acx.py`): the
 * measured value (null when it could not be measured, e.g. the RMS of
 * silence), its unit ("" for none), the requirement in words, the verdict.
 */
export interface AcxCheck {
  value: number | string | null;
  unit: string;
  requirement: string;
  passed: boolean;
}

/**
 * One MP3 of an ACX zip as measured (`check_acx_file`): checks sample_rate,
 * bit_rate, constant_bit_rate, rms, peak, head_room_tone, tail_room_tone and
 * length. A file that could not be decoded fails with an `error`, a null
 * `duration` (seconds) and no checks.
 */
export interface AcxFileReport {
  file: string;
  duration: number | null;
  passed: boolean;
  checks: Record<string, AcxCheck>;
  error?: string;
}

/**
 * The ACX report of an ACX export (`build_report` in
 * `backend/audiobook/acx.py`): per written file, whether it meets each ACX
 * requirement (44.1 kHz, 192 kbps CBR, RMS −23…−18 dB, peaks ≤ −3 dB,
 * 0.5–1 s head and 1–5 s tail of room tone, ≤ 120 min); `passed` when every
 * file passes.
 */
export interface AcxReport {
  standard: string;
  measured_on: string;
  passed: boolean;
  requirements: Record<string, unknown>;
  files: AcxFileReport[];
}

// ---------------------------------------------------------------- settings and voices

/** `GET/PATCH /api/settings/`: the voice id and the speed factor (0.5–2.0). */
export interface GlobalSettings {
  default_voice_id: string;
  tts_speed: number;
}

/** `GET /api/voices/`: the installed model's voices; `max_blend_voices` is the most a blend may mix (issue 9: 5). */
export interface VoicesResponse {
  voices: string[];
  default_voice_id: string;
  model_available: boolean;
  model_variant: string | null;
  max_blend_voices: number;
}

/** A session layout: `threads_per_session` 0 is onnxruntime's default (one thread per core). */
export interface EngineLayout {
  sessions: number;
  threads_per_session: number;
}

/** `GET /api/engine/`: what the TTS engine runs with on this machine (issue 10). */
export interface EngineInfo {
  model_available: boolean;
  /** "official" | "bundled-int8" | "bundled-float32" */
  variant: string | null;
  model_file: string | null;
  variants_available: string[];
  forced_variant: string | null;
  loaded: boolean;
  exact_cues: boolean | null;
  engine_version: number;
  cpu: { model_name: string; flags: string[]; cores: number; vnni: boolean };
  /** The int8 graph's convolutions run as u8 x s8 GEMMs (VNNI CPUs; backend core_engine/conv_gemm.py). */
  int8_conv_gemm: boolean;
  calibration: {
    variant: string;
    layout: EngineLayout;
    variant_chars_per_second: Record<string, number>;
    layout_chars_per_second: Record<string, number>;
    /** Every variant in every layout: {variant: {layout label: chars/s}} (empty in older calibrations). */
    grid_chars_per_second: Record<string, Record<string, number>>;
    text_chars: number;
    calibrated_at: string;
  } | null;
  /** Characters of text per second of wall time, per variant, as calibrated. */
  chars_per_second: Record<string, number>;
  threads: EngineLayout & { forced_sessions: number | null; source: "forced" | "calibrated" | "default" };
  audio_cache: { max_bytes: number };
  /** Where synthesis runs: this process, or Celery workers (backend api/services/remote_synthesis.py). */
  synthesis:
    | { mode: "local" }
    | {
        mode: "celery";
        broker: string;
        error: string | null;
        workers: {
          hostname: string;
          concurrency: number;
          variant: string | null;
          model_sha256: string | null;
          cpu: { model_name: string; flags: string[]; cores: number; vnni: boolean } | null;
          segments_done: number;
        }[];
      };
}

/** The most voices a blend may mix (issue 9), used until `GET /api/voices/` has answered. */
export const DEFAULT_MAX_BLEND_VOICES = 5;

/** Body of `POST /api/voices/preview/` (issue 9): `text` at most {@link MAX_VOICE_PREVIEW_TEXT} characters. */
export interface VoicePreviewRequest {
  voice: string;
  speed?: number;
  text?: string;
}

/** Longest `text` the voice sample endpoint accepts, in characters. */
export const MAX_VOICE_PREVIEW_TEXT = 300;

// ---------------------------------------------------------------- speech preview and lexicon (issue 9)

/** Body of `POST /api/speech/preview/`: `project` applies that project's lexicon; `voice` picks the language. */
export interface SpeechPreviewRequest {
  text: string;
  project?: string | null;
  voice?: string;
}

/**
 * 200 body of `POST /api/speech/preview/`: the normalized text with the
 * project's lexicon applied (phoneme rules appear as `/…/`), its phonemes,
 * the model's token count, and the ids of the rules that matched.
 */
export interface SpeechPreviewResponse {
  spoken_text: string;
  phonemes: string;
  token_count: number;
  rules_applied: string[];
}

/** A replacement written `/…/` is phonemes given to the model as they are; anything else is a respelling. */
export type PronunciationKind = "respelling" | "phonemes";

/**
 * One pronunciation rule of a project (`/api/projects/{id}/lexicon/`):
 * `pattern` (a word or phrase, matched on word boundaries) is read as
 * `replacement`. `kind` is derived from the replacement (read-only).
 */
export interface PronunciationRule {
  id: string;
  project: string;
  pattern: string;
  replacement: string;
  case_sensitive: boolean;
  kind: PronunciationKind;
  created_at: string;
  updated_at: string;
}

/** Body of `POST /api/projects/{id}/lexicon/`; `case_sensitive` defaults to false. */
export interface PronunciationRuleCreate {
  pattern: string;
  replacement: string;
  case_sensitive?: boolean;
}

/** Body of `PATCH /api/projects/{id}/lexicon/{rule_id}/`. */
export type PronunciationRuleUpdate = Partial<PronunciationRuleCreate>;

/** Allowed speed range of the TTS engine. */
export const MIN_TTS_SPEED = 0.5;
export const MAX_TTS_SPEED = 2.0;
