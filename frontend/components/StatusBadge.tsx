/** A segment's generation state as a small coloured badge: none, queued, generating, ready or error. */
import type { SegmentState } from "@/lib/segmentState";

const LABELS: Record<SegmentState["badge"], string> = {
  none: "No audio",
  queued: "Queued",
  generating: "Generating…",
  ready: "Ready",
  error: "Error",
};

/** The badge; for an error, the backend's message follows it. */
export function StatusBadge({ state }: { state: SegmentState }) {
  return (
    <span className="badge-wrap">
      <span className={`badge badge-${state.badge}`} data-testid="segment-status" data-state={state.badge}>
        {LABELS[state.badge]}
      </span>
      {state.badge === "error" && state.error ? (
        <span className="badge-error-text" data-testid="segment-error" role="alert">
          {state.error}
        </span>
      ) : null}
    </span>
  );
}
