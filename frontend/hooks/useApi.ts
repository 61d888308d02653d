"use client";
/**
 * One TanStack Query hook per API endpoint (see `lib/api.ts` for the shapes).
 *
 * Queries: useProjects, useProject, useProjectTasks, useTaskStatus /
 * useTaskStatuses, useTaskLogs, useSettings, useVoices, useExports,
 * useExport, usePronunciationRules, useSpeechPreview (a POST that only reads).
 * Mutations: one per write endpoint, and useVoicePreview (the sample WAV). Task status queries poll every {@link TASK_POLL_INTERVAL_MS}
 * and stop by themselves: `refetchInterval` returns false once the task is
 * COMPLETED, FAILED or CANCELLED, or once the status request failed (e.g. a
 * 404 for a task the server no longer knows).
 */
import {
  keepPreviousData,
  useMutation,
  useQueries,
  useQuery,
  useQueryClient,
  type Query,
  type UseQueryOptions,
} from "@tanstack/react-query";

import * as api from "@/lib/api";
import {
  isTerminalStatus,
  type AudiobookExport,
  type ExportFormat,
  type FileImport,
  type GlobalSettings,
  type ProjectDetail,
  type ProjectUpdate,
  type PronunciationRuleCreate,
  type PronunciationRuleUpdate,
  type Segment,
  type SegmentCreate,
  type SegmentUpdate,
  type SpeechPreviewRequest,
  type StoryImport,
  type TaskStatusResponse,
  type VoicePreviewRequest,
} from "@/lib/types";
import { queryKeys } from "./queryKeys";

/** How often a running task's status is fetched, in milliseconds (spec: every 2 s). */
export const TASK_POLL_INTERVAL_MS = 2000;

/**
 * The `refetchInterval` of a task status query: 2000 ms while the task is
 * PENDING or PROCESSING (or not loaded yet), false once it is terminal or its
 * last fetch failed.
 */
export function taskRefetchInterval(
  query: Pick<Query<TaskStatusResponse, Error>, "state">,
  intervalMs: number = TASK_POLL_INTERVAL_MS,
): number | false {
  if (query.state.status === "error") return false;
  const data = query.state.data;
  if (data && isTerminalStatus(data.status)) return false;
  return intervalMs;
}

/** Query options for one task's status: polled until terminal; a 404 is not retried. */
export function taskStatusQueryOptions(taskId: string): UseQueryOptions<TaskStatusResponse, Error> {
  return {
    queryKey: queryKeys.task(taskId),
    queryFn: () => api.getTaskStatus(taskId),
    refetchInterval: (query) => taskRefetchInterval(query),
    refetchIntervalInBackground: true,
    retry: (failureCount, error) => !(error instanceof api.ApiError && error.status === 404) && failureCount < 2,
    staleTime: 0,
  };
}

// ---------------------------------------------------------------- queries

/** `GET /api/projects/`. */
export function useProjects() {
  return useQuery({ queryKey: queryKeys.projects, queryFn: api.listProjects });
}

/** `GET /api/projects/{id}/`: the project and its ordered segments. */
export function useProject(projectId: string) {
  return useQuery({ queryKey: queryKeys.project(projectId), queryFn: () => api.getProject(projectId) });
}

/**
 * `GET /api/projects/{id}/tasks/` (progress issue): the project's active and
 * recent tasks. Not retried: a backend without the endpoint answers 404 and
 * the editor falls back to the task ids it remembers.
 */
export function useProjectTasks(projectId: string) {
  return useQuery({
    queryKey: queryKeys.projectTasks(projectId),
    queryFn: () => api.getProjectTasks(projectId),
    retry: false,
    staleTime: 0,
  });
}

/** `GET /api/tasks/{id}/status/`, polled every 2 s until the task ends. Disabled for a null id. */
export function useTaskStatus(taskId: string | null) {
  return useQuery({ ...taskStatusQueryOptions(taskId ?? ""), enabled: !!taskId });
}

/** {@link useTaskStatus} for several tasks at once (the segment tasks of a timeline). */
export function useTaskStatuses(taskIds: string[]) {
  return useQueries({ queries: taskIds.map((taskId) => taskStatusQueryOptions(taskId)) });
}

/** `GET /api/tasks/{id}/logs/` (progress issue), refreshed every 2 s while `live`. */
export function useTaskLogs(taskId: string | null, live: boolean) {
  return useQuery({
    queryKey: queryKeys.taskLogs(taskId ?? ""),
    queryFn: () => api.getTaskLogs(taskId ?? ""),
    enabled: !!taskId,
    retry: false,
    refetchInterval: live ? TASK_POLL_INTERVAL_MS : false,
  });
}

/** `GET /api/projects/{id}/exports/`: the project's exports, newest first. */
export function useExports(projectId: string) {
  return useQuery({
    queryKey: queryKeys.exports(projectId),
    queryFn: () => api.listExports(projectId),
    retry: (failureCount, error) => !(error instanceof api.ApiError && error.status === 404) && failureCount < 1,
  });
}

/** `GET /api/projects/{id}/exports/{export_id}/`: one export. Disabled for a null id. */
export function useExport(projectId: string, exportId: string | null) {
  return useQuery({
    queryKey: queryKeys.export(projectId, exportId ?? ""),
    queryFn: () => api.getExport(projectId, exportId ?? ""),
    enabled: !!exportId,
    retry: false,
  });
}

/** `GET /api/settings/`. */
export function useSettings() {
  return useQuery({ queryKey: queryKeys.settings, queryFn: api.getSettings });
}

/** `GET /api/voices/`. */
export function useVoices() {
  return useQuery({ queryKey: queryKeys.voices, queryFn: api.getVoices, staleTime: 5 * 60_000 });
}

/** `GET /api/projects/{id}/lexicon/` (issue 9): the project's pronunciation rules, oldest first. */
export function usePronunciationRules(projectId: string) {
  return useQuery({ queryKey: queryKeys.lexicon(projectId), queryFn: () => api.listPronunciationRules(projectId) });
}

/**
 * `POST /api/speech/preview/` (issue 9) as a query: how `request.text` will be
 * read with the project's lexicon. Cached per project, voice and text, and
 * refreshed when a rule of the project changes. Disabled for null or blank
 * text; a 400 is not retried. While a new text is read, the previous answer
 * stays (`isPlaceholderData`), so the preview does not flicker during typing.
 */
export function useSpeechPreview(request: SpeechPreviewRequest | null) {
  const projectId = request?.project ?? null;
  const voice = request?.voice ?? null;
  const text = request?.text ?? "";
  return useQuery({
    queryKey: queryKeys.speechPreview(projectId, voice, text),
    queryFn: () => api.previewSpeech({ text, project: projectId, voice: voice ?? undefined }),
    enabled: !!text.trim(),
    placeholderData: keepPreviousData,
    retry: (failureCount, error) => !(error instanceof api.ApiError && error.status < 500) && failureCount < 1,
  });
}

// ---------------------------------------------------------------- mutations

/** `POST /api/projects/`. */
export function useCreateProject() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (title: string) => api.createProject(title),
    onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.projects }),
  });
}

/**
 * `PATCH /api/projects/{id}/`: title, author, pacing, voice and speed. The
 * saved fields go into the project's cache at once (its segments and chapters
 * are kept). A new voice or speed re-reads the project, since segments that
 * inherit them may now be out of date, and refreshes its speech previews.
 */
export function useUpdateProject(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (changes: ProjectUpdate) => api.updateProject(projectId, changes),
    onSuccess: (saved, changes) => {
      client.setQueryData<ProjectDetail>(queryKeys.project(projectId), (project) =>
        project ? { ...project, ...saved, segments: project.segments, chapters: project.chapters } : project,
      );
      client.invalidateQueries({ queryKey: queryKeys.projects });
      if ("voice" in changes || "speed" in changes) {
        client.invalidateQueries({ queryKey: queryKeys.project(projectId), exact: true });
        client.invalidateQueries({ queryKey: queryKeys.speechPreviews(projectId) });
      }
    },
  });
}

/** `DELETE /api/projects/{id}/`. */
export function useDeleteProject() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (projectId: string) => api.deleteProject(projectId),
    onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.projects }),
  });
}

/**
 * `POST /api/projects/import/`: pasted text as JSON (`{title, text}`), or a
 * file (`{file, title?}`: .txt, .md or .epub) as multipart. The new project
 * goes into the cache.
 */
export function useImportStory() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (story: StoryImport | FileImport) =>
      "file" in story ? api.importStoryFile(story) : api.importStory(story),
    onSuccess: (project) => {
      client.setQueryData<ProjectDetail>(queryKeys.project(project.id), project);
      client.invalidateQueries({ queryKey: queryKeys.projects });
    },
  });
}

/** `POST /api/segments/`. */
export function useCreateSegment(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (segment: Omit<SegmentCreate, "project">) => api.createSegment({ ...segment, project: projectId }),
    onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
  });
}

/** Put `saved` (a segment as the server answered it) into the project's cache in place of its old copy. */
function putSegment(client: ReturnType<typeof useQueryClient>, projectId: string, saved: Segment) {
  client.setQueryData<ProjectDetail>(queryKeys.project(projectId), (project) =>
    project
      ? { ...project, segments: project.segments.map((segment) => (segment.id === saved.id ? saved : segment)) }
      : project,
  );
}

/**
 * `PATCH /api/segments/{id}/`; the project cache gets the saved segment at
 * once. A change of `chapter_title` also re-reads the project (its `chapters`).
 * With `ifMatch` (issue 11) the write is refused with a 412 when the segment
 * changed elsewhere; the segment as it is now then goes into the cache too,
 * so the editor shows the other version while the writer chooses.
 */
export function useUpdateSegment(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ segmentId, changes, ifMatch }: { segmentId: string; changes: SegmentUpdate; ifMatch?: string }) =>
      api.updateSegment(segmentId, changes, { ifMatch }),
    onSuccess: (saved, { changes }) => {
      putSegment(client, projectId, saved);
      if ("chapter_title" in changes) client.invalidateQueries({ queryKey: queryKeys.project(projectId) });
    },
    onError: (error) => {
      const current = api.segmentFromConflict(error);
      if (current) {
        putSegment(client, projectId, current);
        client.invalidateQueries({ queryKey: queryKeys.project(projectId), exact: true }); // its chapters may have changed too
      }
    },
  });
}

/** `DELETE /api/segments/{id}/`. */
export function useDeleteSegment(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (segmentId: string) => api.deleteSegment(segmentId),
    onSuccess: () => client.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
  });
}

/** `POST /api/segments/{id}/generate-audio/`. */
export function useGenerateSegmentAudio() {
  return useMutation({ mutationFn: (segmentId: string) => api.generateSegmentAudio(segmentId) });
}

/** `POST /api/projects/{id}/generate-all-audio/`. */
export function useGenerateAllAudio(projectId: string) {
  return useMutation({
    mutationFn: (options: { skipLocked: boolean; forceRegenerate: boolean }) => api.generateAllAudio(projectId, options),
  });
}

/** `POST /api/projects/{id}/export/` `{format, generate_missing}`. */
export function useExportProject(projectId: string) {
  return useMutation({
    mutationFn: ({ format, generateMissing }: { format: ExportFormat; generateMissing: boolean }) =>
      api.exportProject(projectId, format, { generateMissing }),
  });
}

/** `DELETE /api/projects/{id}/exports/{export_id}/`; the export leaves the list at once. */
export function useDeleteExport(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (exportId: string) => api.deleteExport(projectId, exportId),
    onSuccess: (_, exportId) => {
      client.setQueryData<AudiobookExport[]>(queryKeys.exports(projectId), (exports) =>
        exports?.filter((entry) => entry.id !== exportId),
      );
      client.removeQueries({ queryKey: queryKeys.export(projectId, exportId) });
      client.invalidateQueries({ queryKey: queryKeys.exports(projectId) });
    },
  });
}

/** `POST /api/tasks/{id}/cancel/`; the answer (a status body) goes straight into the task's cache. */
export function useCancelTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (taskId: string) => api.cancelTask(taskId),
    onSuccess: (status) => {
      client.setQueryData(queryKeys.task(status.task_id), status);
    },
  });
}

/**
 * After a pronunciation rule changed: re-read the rules, the project (the
 * segments whose text the rule matches are now out of date: `audio_stale`)
 * and the project's speech previews.
 */
function refreshAfterLexiconChange(client: ReturnType<typeof useQueryClient>, projectId: string) {
  client.invalidateQueries({ queryKey: queryKeys.lexicon(projectId) });
  client.invalidateQueries({ queryKey: queryKeys.project(projectId), exact: true });
  client.invalidateQueries({ queryKey: queryKeys.speechPreviews(projectId) });
}

/** `POST /api/projects/{id}/lexicon/` (issue 9); a 400 names the bad field (see `fieldErrors`). */
export function useCreatePronunciationRule(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rule: PronunciationRuleCreate) => api.createPronunciationRule(projectId, rule),
    onSuccess: () => refreshAfterLexiconChange(client, projectId),
  });
}

/** `PATCH /api/projects/{id}/lexicon/{rule_id}/` (issue 9). */
export function useUpdatePronunciationRule(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ ruleId, changes }: { ruleId: string; changes: PronunciationRuleUpdate }) =>
      api.updatePronunciationRule(projectId, ruleId, changes),
    onSuccess: () => refreshAfterLexiconChange(client, projectId),
  });
}

/** `DELETE /api/projects/{id}/lexicon/{rule_id}/` (issue 9). */
export function useDeletePronunciationRule(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (ruleId: string) => api.deletePronunciationRule(projectId, ruleId),
    onSuccess: () => refreshAfterLexiconChange(client, projectId),
  });
}

/** `POST /api/voices/preview/` (issue 9): resolves with the sample as a WAV `Blob`. */
export function useVoicePreview() {
  return useMutation({ mutationFn: (request: VoicePreviewRequest) => api.previewVoice(request) });
}

/** `PATCH /api/settings/`. */
export function useUpdateSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (changes: Partial<GlobalSettings>) => api.updateSettings(changes),
    onSuccess: (saved) => client.setQueryData(queryKeys.settings, saved),
  });
}
