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
};
