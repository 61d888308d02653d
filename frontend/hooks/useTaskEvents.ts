"use client";
/**
 * Live task updates over Server-Sent Events, on top of polling.
 *
 * `GET /api/tasks/{id}/events/` (progress issue) sends `event: status` with
 * the status body as `data`, and closes after a terminal status. Each event
 * is written into the task's TanStack Query cache, so the UI moves as soon as
 * the backend reports. Polling ({@link useTaskStatus}) keeps running as the
 * fallback: if the stream is missing (older backend: 404) or breaks, the
 * EventSource is closed for good and nothing else changes.
 */
import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";

import { taskEventsUrl } from "@/lib/api";
import { isTerminalStatus, type TaskStatusResponse } from "@/lib/types";
import { queryKeys } from "./queryKeys";

/** Subscribe to a running task's event stream while `enabled`; no-op where EventSource is missing. */
export function useTaskEvents(taskId: string | null, enabled: boolean): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!taskId || !enabled || typeof EventSource === "undefined") return;
    const source = new EventSource(taskEventsUrl(taskId));
    source.addEventListener("status", (event) => {
      try {
        const status = JSON.parse((event as MessageEvent<string>).data) as TaskStatusResponse;
        if (status && status.task_id === taskId) {
          client.setQueryData(queryKeys.task(taskId), status);
          if (isTerminalStatus(status.status)) source.close();
        }
      } catch {
        // A malformed event: ignore it, polling still runs.
      }
    });
    // No automatic reconnection: on any error polling carries on alone.
    source.onerror = () => source.close();
    return () => source.close();
  }, [taskId, enabled, client]);
}
