/** TanStack Query keys, one per cached resource. */
export const queryKeys = {
  projects: ["projects"] as const,
  project: (projectId: string) => ["project", projectId] as const,
  projectTasks: (projectId: string) => ["project", projectId, "tasks"] as const,
  exports: (projectId: string) => ["project", projectId, "exports"] as const,
  export: (projectId: string, exportId: string) => ["project", projectId, "exports", exportId] as const,
  task: (taskId: string) => ["task", taskId] as const,
  taskLogs: (taskId: string) => ["task", taskId, "logs"] as const,
  settings: ["settings"] as const,
  voices: ["voices"] as const,
  /** A project's pronunciation rules (issue 9). */
  lexicon: (projectId: string) => ["project", projectId, "lexicon"] as const,
  /** Every speech preview made with a project's lexicon (null: none), to refresh them after a rule changes. */
  speechPreviews: (projectId: string | null) => ["speech-preview", projectId] as const,
  /** One speech preview: the text read with a project's lexicon and a voice (issue 9). */
  speechPreview: (projectId: string | null, voice: string | null, text: string) =>
    ["speech-preview", projectId, voice, text] as const,
};
