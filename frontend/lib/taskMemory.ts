/**
 * The editor remembers, per project, the tasks it started that may still be
 * running (in `localStorage`), so a reload can find them again even on a
 * backend without `GET /api/projects/{id}/tasks/`.
 */

/** A task the editor follows: its id, its kind, and the segment ids it was expected to process. */
export interface TrackedTask {
  taskId: string;
  kind: "batch" | "segment" | "export";
  /** Segment ids the task should process, in order (from the editor's own selection). */
  expected: string[];
}

const key = (projectId: string) => `storyflow.tasks.${projectId}`;

function storage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    return null;
  }
}

/** The tasks remembered for a project (an empty list when none, or when storage is unavailable). */
export function loadTrackedTasks(projectId: string): TrackedTask[] {
  const raw = storage()?.getItem(key(projectId));
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    return Array.isArray(parsed)
      ? parsed.filter((task): task is TrackedTask => typeof task?.taskId === "string" && ["batch", "segment", "export"].includes(task.kind))
          .map((task) => ({ ...task, expected: Array.isArray(task.expected) ? task.expected : [] }))
      : [];
  } catch {
    return [];
  }
}

/** Remember exactly `tasks` for a project (an empty list forgets them all). */
export function saveTrackedTasks(projectId: string, tasks: TrackedTask[]): void {
  const store = storage();
  if (!store) return;
  if (tasks.length) store.setItem(key(projectId), JSON.stringify(tasks));
  else store.removeItem(key(projectId));
}
