/**
 * StoryFlow's API client: one function per backend endpoint.
 *
 * All paths are relative to `/api` on the page's own origin; Next forwards
 * them to Django (see `proxy.ts`), so there is no CORS and no backend URL in
 * the browser. The audio functions follow spec task 03.02.09
 * (`audio-generation-api.md`) exactly; the rest cover projects, segments,
 * import (JSON text or a multipart file), settings, voices, the progress
 * issue's task endpoints, the audiobook exports (issue 8), issue 9's
 * pronunciation lexicon, speech preview and voice samples, and issue 11's
 * conditional segment writes (`If-Match`, 412 "changed elsewhere").
 *
 * Every function resolves with the parsed JSON body (the voice sample: a WAV
 * `Blob`) and rejects with an {@link ApiError} (HTTP status + body) on a
 * non-2xx answer, or with the fetch `TypeError` when the server cannot be
 * reached.
 */
import type {
  AudiobookExport,
  BulkTaskResponse,
  ExportFormat,
  ExportTaskResponse,
  FileImport,
  GlobalSettings,
  NoSegmentsToProcessResponse,
  Project,
  PronunciationRule,
  PronunciationRuleCreate,
  PronunciationRuleUpdate,
  ProjectDetail,
  ProjectTasksResponse,
  ProjectUpdate,
  Segment,
  SegmentCreate,
  SegmentUpdate,
  SegmentWithoutAudio,
  SpeechPreviewRequest,
  SpeechPreviewResponse,
  StoryImport,
  TaskLogsResponse,
  TaskResponse,
  TaskStatusResponse,
  VoicePreviewRequest,
  VoicesResponse,
  EngineInfo,
} from "./types";

/** Prefix of every API path. */
export const API_BASE = "/api";

/** A non-2xx answer from the API: `status` is the HTTP status, `body` the parsed JSON (or text). */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, fallback: string) {
    super(errorMessage(body) ?? fallback);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

/**
 * A readable message from an error body: `{"error": "..."}`, DRF's
 * `{"detail": "..."}`, or DRF field errors `{"field": ["..."]}`.
 */
export function errorMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim() || undefined;
  if (!body || typeof body !== "object") return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record.error === "string") return record.error;
  if (typeof record.detail === "string") return record.detail;
  const parts: string[] = [];
  for (const [field, value] of Object.entries(record)) {
    const text = Array.isArray(value) ? value.join(" ") : typeof value === "string" ? value : null;
    if (text) parts.push(field === "non_field_errors" ? text : `${field}: ${text}`);
  }
  return parts.length ? parts.join("; ") : undefined;
}

/**
 * DRF field errors of a 400 answer, one message per field: `{"voice": ["a", "b"]}`
 * → `{voice: "a b"}` (`non_field_errors`, `error` and `detail` are kept under
 * their own names). Null for anything that is not a 400 {@link ApiError} with
 * an object body.
 */
export function fieldErrors(error: unknown): Record<string, string> | null {
  if (!(error instanceof ApiError) || error.status !== 400 || !error.body || typeof error.body !== "object") return null;
  const fields: Record<string, string> = {};
  for (const [field, value] of Object.entries(error.body as Record<string, unknown>)) {
    const text = Array.isArray(value) ? value.map(String).join(" ") : typeof value === "string" ? value : null;
    if (text) fields[field] = text;
  }
  return Object.keys(fields).length ? fields : null;
}

/** Parse a response body: JSON when it is JSON, else the text; undefined when empty. */
async function parseBody(response: Response): Promise<unknown> {
  const text = response.status === 204 ? "" : await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What the tiny HTTP client resolves with: the parsed body and the HTTP status. */
export interface ApiResponse<T> {
  data: T;
  status: number;
}

async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<ApiResponse<T>> {
  const init: RequestInit = { method, headers: { Accept: "application/json", ...headers } };
  if (body instanceof FormData) {
    // multipart/form-data: the browser sets the Content-Type with its boundary.
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  const response = await fetch(`${API_BASE}${path}`, init);
  const data = await parseBody(response);
  if (!response.ok) {
    throw new ApiError(response.status, data, `${method} ${API_BASE}${path} failed with HTTP ${response.status}`);
  }
  return { data: data as T, status: response.status };
}

/**
 * Minimal axios-like client used by the spec's functions: `api.post(path, body)`
 * resolves with `{ data, status }`. Paths start after `/api`. A `FormData`
 * body is sent as multipart/form-data, anything else as JSON.
 */
export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body),
  /** PATCH a JSON body; `headers` are added to the request (e.g. `If-Match`). */
  patch: <T>(path: string, body: unknown, headers?: Record<string, string>) => request<T>("PATCH", path, body, headers),
  delete: <T = void>(path: string) => request<T>("DELETE", path),
  /**
   * POST a JSON body and resolve with the answer as a `Blob` (audio). A
   * non-2xx answer rejects with an {@link ApiError} whose body is the parsed
   * JSON error, as for the other calls.
   */
  postForBlob: async (path: string, body: unknown): Promise<Blob> => {
    const response = await fetch(`${API_BASE}${path}`, {
      method: "POST",
      headers: { Accept: "audio/wav, application/json", "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      throw new ApiError(response.status, await parseBody(response), `POST ${API_BASE}${path} failed with HTTP ${response.status}`);
    }
    return response.blob();
  },
};

// ------------------------------------------------------------------ audio (spec 03.02.09)

/**
 * Queue TTS for one segment: `POST /api/segments/{id}/generate-audio/` → 202
 * `{task_id, segment_id, status: "PENDING", message}`. Rejects with 400 (empty
 * text), 404, 409 (locked) or 503 (no model). If the segment already has an
 * active task, the backend answers 202 with that task's id.
 */
export async function generateSegmentAudio(segmentId: string): Promise<TaskResponse> {
  const response = await api.post<TaskResponse>(`/segments/${segmentId}/generate-audio/`);
  return response.data;
}

/**
 * Queue TTS for a project's segments: `POST /api/projects/{id}/generate-all-audio/`
 * with `{skip_locked, force_regenerate}` (defaults true and false).
 *
 * Resolves with the 202 {@link BulkTaskResponse} (it has a `task_id`), or with
 * the 200 {@link NoSegmentsToProcessResponse} when every segment was skipped
 * (no `task_id`). Rejects with an {@link ApiError}; a 409 while another batch
 * runs carries that batch's id in `body.task_id` (see {@link activeTaskIdFromConflict}).
 */
export async function generateAllAudio(
  projectId: string,
  options?: { skipLocked?: boolean; forceRegenerate?: boolean },
): Promise<BulkTaskResponse | NoSegmentsToProcessResponse> {
  const response = await api.post<BulkTaskResponse | NoSegmentsToProcessResponse>(
    `/projects/${projectId}/generate-all-audio/`,
    {
      skip_locked: options?.skipLocked ?? true,
      force_regenerate: options?.forceRegenerate ?? false,
    },
  );
  return response.data;
}

/** True when a generate-all answer started a task (202), false when nothing was left to do (200). */
export function isBulkTaskStarted(
  response: BulkTaskResponse | NoSegmentsToProcessResponse,
): response is BulkTaskResponse {
  return typeof (response as BulkTaskResponse).task_id === "string";
}

/** The running batch's id from a 409 answer of generate-all-audio, or null for any other error. */
export function activeTaskIdFromConflict(error: unknown): string | null {
  if (error instanceof ApiError && error.status === 409 && error.body && typeof error.body === "object") {
    const taskId = (error.body as Record<string, unknown>).task_id;
    return typeof taskId === "string" ? taskId : null;
  }
  return null;
}

/** `GET /api/tasks/{task_id}/status/`: the task's status body; rejects with 404 for an unknown task. */
export async function getTaskStatus(taskId: string): Promise<TaskStatusResponse> {
  const response = await api.get<TaskStatusResponse>(`/tasks/${taskId}/status/`);
  return response.data;
}

/**
 * Poll a task every `intervalMs` milliseconds (default 2000) until it ends.
 *
 * The first request is made after one interval, and the next one only after
 * the previous answer arrived (requests never overlap). `onProgress` gets
 * every status. Resolves with the final status when it is COMPLETED, FAILED
 * or CANCELLED (check `result.status`); rejects, and stops polling, on the
 * first error (network failure, 404, ...). Aborting `signal` stops polling
 * and rejects with the signal's reason.
 */
export async function pollTaskStatus(
  taskId: string,
  onProgress: (status: TaskStatusResponse) => void,
  intervalMs: number = 2000,
  signal?: AbortSignal,
): Promise<TaskStatusResponse> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error("Polling aborted"));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });

    const tick = async () => {
      try {
        const status = await getTaskStatus(taskId);
        if (signal?.aborted) return;
        onProgress(status);
        if (status.status === "COMPLETED" || status.status === "FAILED" || status.status === "CANCELLED") {
          signal?.removeEventListener("abort", onAbort);
          resolve(status);
          return;
        }
        timer = setTimeout(tick, intervalMs);
      } catch (error) {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      }
    };
    timer = setTimeout(tick, intervalMs);
  });
}

/**
 * Ask a task to stop: `POST /api/tasks/{task_id}/cancel/` → 202 with its status body.
 * A queued task ends CANCELLED at once; a running batch finishes its current
 * segment first, then ends CANCELLED.
 */
export async function cancelTask(taskId: string): Promise<TaskStatusResponse> {
  const response = await api.post<TaskStatusResponse>(`/tasks/${taskId}/cancel/`);
  return response.data;
}

/** `GET /api/projects/{id}/tasks/`: the project's active and recent tasks, newest first (progress issue). */
export async function getProjectTasks(projectId: string): Promise<ProjectTasksResponse> {
  const response = await api.get<ProjectTasksResponse>(`/projects/${projectId}/tasks/`);
  return response.data;
}

/** `GET /api/tasks/{id}/logs/`: the task's log lines (progress issue). */
export async function getTaskLogs(taskId: string): Promise<TaskLogsResponse> {
  const response = await api.get<TaskLogsResponse>(`/tasks/${taskId}/logs/`);
  return response.data;
}

/** URL of the task's Server-Sent Events stream (`event: status`, `data: <status body>`). */
export function taskEventsUrl(taskId: string): string {
  return `${API_BASE}/tasks/${taskId}/events/`;
}

// ------------------------------------------------------------------ projects

/** `GET /api/projects/`: every project, most recently updated first. */
export async function listProjects(): Promise<Project[]> {
  return (await api.get<Project[]>("/projects/")).data;
}

/** `GET /api/projects/{id}/`: the project with its segments in `sequence_index` order. */
export async function getProject(projectId: string): Promise<ProjectDetail> {
  return (await api.get<ProjectDetail>(`/projects/${projectId}/`)).data;
}

/** `POST /api/projects/` `{title}` → 201: a new, empty project. */
export async function createProject(title: string): Promise<Project> {
  return (await api.post<Project>("/projects/", { title })).data;
}

/**
 * `PATCH /api/projects/{id}/` with any of `title`, `author`, `paragraph_pause`,
 * `chapter_pause`, `lead_in`, `tail` (pauses in seconds, 0–10), `voice` (id or
 * blend, null = the global default) and `speed` (0.5–2.0, null = the global
 * speed). 400 with field errors otherwise, e.g. `{"voice": ["Unknown voice ..."]}`.
 */
export async function updateProject(projectId: string, changes: ProjectUpdate): Promise<Project> {
  return (await api.patch<Project>(`/projects/${projectId}/`, changes)).data;
}

/** `DELETE /api/projects/{id}/` → 204: the project, its segments and its audio folder. */
export async function deleteProject(projectId: string): Promise<void> {
  await api.delete(`/projects/${projectId}/`);
}

/** `POST /api/projects/import/` `{title, text}` → 201: a project with one segment per paragraph. */
export async function importStory(story: StoryImport): Promise<ProjectDetail> {
  return (await api.post<ProjectDetail>("/projects/import/", story)).data;
}

/**
 * `POST /api/projects/import/` as multipart/form-data: `file` (.txt, .md or
 * .epub, at most 50 MB) and `title` when given (blank titles are not sent, so
 * the backend uses the book's own). → 201 with the project detail. A bad file
 * is a 400 `{"error": "what is wrong"}` (the {@link ApiError}'s message) and
 * creates nothing.
 */
export async function importStoryFile(upload: FileImport): Promise<ProjectDetail> {
  const form = new FormData();
  form.append("file", upload.file, upload.file.name);
  const title = upload.title?.trim();
  if (title) form.append("title", title);
  return (await api.post<ProjectDetail>("/projects/import/", form)).data;
}

// ------------------------------------------------------------------ segments

/** `GET /api/segments/?project={id}`: a project's segments in order. */
export async function listSegments(projectId: string): Promise<Segment[]> {
  return (await api.get<Segment[]>(`/segments/?project=${encodeURIComponent(projectId)}`)).data;
}

/** `POST /api/segments/` → 201: a new segment (at the end unless `sequence_index` is given). */
export async function createSegment(segment: SegmentCreate): Promise<Segment> {
  return (await api.post<Segment>("/segments/", segment)).data;
}

/**
 * `PATCH /api/segments/{id}/` with any of `text_content`, `is_locked`,
 * `sequence_index`, `chapter_title`, `voice` and `speed` (null = the
 * project's). Changing a locked segment's text is a 409; a bad voice or speed
 * a 400 with field errors.
 *
 * Issue 11: with `ifMatch` (the segment's `etag` as it was loaded) the write
 * happens only if nobody changed the segment since; otherwise it rejects with
 * a 412 {@link ApiError} whose body holds the segment as it is now (see
 * {@link segmentFromConflict}). Without `ifMatch` the write always wins.
 */
export async function updateSegment(
  segmentId: string,
  changes: SegmentUpdate,
  options?: { ifMatch?: string },
): Promise<Segment> {
  const headers = options?.ifMatch ? { "If-Match": options.ifMatch } : undefined;
  return (await api.patch<Segment>(`/segments/${segmentId}/`, changes, headers)).data;
}

/**
 * The segment as it is now, from the 412 of a write whose `ifMatch` was out of
 * date ("changed elsewhere"); null for any other error.
 */
export function segmentFromConflict(error: unknown): Segment | null {
  if (error instanceof ApiError && error.status === 412 && error.body && typeof error.body === "object") {
    const current = (error.body as Record<string, unknown>).current;
    if (current && typeof current === "object" && typeof (current as Segment).id === "string") return current as Segment;
  }
  return null;
}

/** `DELETE /api/segments/{id}/` → 204 (and its `.wav`); a locked segment is a 409. */
export async function deleteSegment(segmentId: string): Promise<void> {
  await api.delete(`/segments/${segmentId}/`);
}

// ------------------------------------------------------------------ settings and voices

/** `GET /api/settings/`: `{default_voice_id, tts_speed}`. */
export async function getSettings(): Promise<GlobalSettings> {
  return (await api.get<GlobalSettings>("/settings/")).data;
}

/** `PATCH /api/settings/` with a voice id and/or a speed (0.5–2.0); 400 with field errors otherwise. */
export async function updateSettings(changes: Partial<GlobalSettings>): Promise<GlobalSettings> {
  return (await api.patch<GlobalSettings>("/settings/", changes)).data;
}

/** `GET /api/voices/`: the installed model's voice ids, whether the model is available, `max_blend_voices`. */
export async function getVoices(): Promise<VoicesResponse> {
  return (await api.get<VoicesResponse>("/voices/")).data;
}

/** `GET /api/engine/`: the model variant, the CPU, measured chars/s per variant and the thread settings. */
export async function getEngine(): Promise<EngineInfo> {
  return (await api.get<EngineInfo>("/engine/")).data;
}

/**
 * `POST /api/voices/preview/` `{voice, speed?, text?}` → 200 audio/wav: a
 * short sample of a voice or blend (cached by the backend), as a `Blob` to
 * play through an object URL. Rejects with 400 (bad voice, speed or text:
 * field errors) or 503 (no model installed).
 */
export async function previewVoice(request: VoicePreviewRequest): Promise<Blob> {
  const body: VoicePreviewRequest = { voice: request.voice };
  if (request.speed != null) body.speed = request.speed;
  if (request.text) body.text = request.text;
  return api.postForBlob("/voices/preview/", body);
}

// ------------------------------------------------------------------ speech preview and lexicon (issue 9)

/**
 * `POST /api/speech/preview/` `{text, project?, voice?}` → 200
 * `{spoken_text, phonemes, token_count, rules_applied}`: how the text will be
 * read (normalized, with the project's lexicon applied). 400 for a bad text,
 * voice or project. `project` and `voice` are only sent when given.
 */
export async function previewSpeech(request: SpeechPreviewRequest): Promise<SpeechPreviewResponse> {
  const body: SpeechPreviewRequest = { text: request.text };
  if (request.project) body.project = request.project;
  if (request.voice) body.voice = request.voice;
  return (await api.post<SpeechPreviewResponse>("/speech/preview/", body)).data;
}

/** `GET /api/projects/{id}/lexicon/`: the project's pronunciation rules, oldest first. */
export async function listPronunciationRules(projectId: string): Promise<PronunciationRule[]> {
  return (await api.get<PronunciationRule[]>(`/projects/${projectId}/lexicon/`)).data;
}

/**
 * `POST /api/projects/{id}/lexicon/` `{pattern, replacement, case_sensitive?}`
 * → 201 rule. A bad pattern or replacement (e.g. unknown phoneme symbols in a
 * `/…/` replacement) is a 400 naming the field: `{"replacement": ["..."]}`.
 */
export async function createPronunciationRule(projectId: string, rule: PronunciationRuleCreate): Promise<PronunciationRule> {
  return (await api.post<PronunciationRule>(`/projects/${projectId}/lexicon/`, rule)).data;
}

/** `PATCH /api/projects/{id}/lexicon/{rule_id}/` → 200 rule; 400 with field errors as for create. */
export async function updatePronunciationRule(
  projectId: string,
  ruleId: string,
  changes: PronunciationRuleUpdate,
): Promise<PronunciationRule> {
  return (await api.patch<PronunciationRule>(`/projects/${projectId}/lexicon/${ruleId}/`, changes)).data;
}

/** `DELETE /api/projects/{id}/lexicon/{rule_id}/` → 204. */
export async function deletePronunciationRule(projectId: string, ruleId: string): Promise<void> {
  await api.delete(`/projects/${projectId}/lexicon/${ruleId}/`);
}

// ------------------------------------------------------------------ exports (issue 8)

/**
 * Start exporting the whole book: `POST /api/projects/{id}/export/`
 * `{format, generate_missing}` → 202 {@link ExportTaskResponse}. Rejects with
 * an {@link ApiError}: 409 when segments have no audio and `generateMissing`
 * is false (see {@link segmentsWithoutAudioFromConflict}), 409 while the project
 * already has an export running (its id: {@link activeTaskIdFromConflict}),
 * 400 for a bad format or a project with no segments.
 */
export async function exportProject(
  projectId: string,
  format: ExportFormat,
  options?: { generateMissing?: boolean },
): Promise<ExportTaskResponse> {
  const response = await api.post<ExportTaskResponse>(`/projects/${projectId}/export/`, {
    format,
    generate_missing: options?.generateMissing ?? false,
  });
  return response.data;
}

/**
 * The segments without audio listed by an export's 409, or null for any other
 * error (including the 409 of an export that is already running).
 */
export function segmentsWithoutAudioFromConflict(error: unknown): SegmentWithoutAudio[] | null {
  if (error instanceof ApiError && error.status === 409 && error.body && typeof error.body === "object") {
    const missing = (error.body as Record<string, unknown>).segments_without_audio;
    return Array.isArray(missing) ? (missing as SegmentWithoutAudio[]) : null;
  }
  return null;
}

/** `GET /api/projects/{id}/exports/`: the project's exports, newest first. */
export async function listExports(projectId: string): Promise<AudiobookExport[]> {
  return (await api.get<AudiobookExport[]>(`/projects/${projectId}/exports/`)).data;
}

/** `GET /api/projects/{id}/exports/{export_id}/`: one export; 404 when it is unknown. */
export async function getExport(projectId: string, exportId: string): Promise<AudiobookExport> {
  return (await api.get<AudiobookExport>(`/projects/${projectId}/exports/${exportId}/`)).data;
}

/** `DELETE /api/projects/{id}/exports/{export_id}/` → 204: the export and its files. */
export async function deleteExport(projectId: string, exportId: string): Promise<void> {
  await api.delete(`/projects/${projectId}/exports/${exportId}/`);
}
