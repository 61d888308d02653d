"use client";
/**
 * A Delete button that asks first: clicking it shows the question with
 * "Yes, delete" and "Keep" in its place. Controlled, so a list can keep at
 * most one row asking at a time.
 */
import type { ReactNode } from "react";

export interface ConfirmDeleteProps {
  /** True while the question is shown instead of the Delete button. */
  confirming: boolean;
  /** Delete was clicked: show the question. */
  onAsk: () => void;
  /** "Keep" was clicked: hide the question. */
  onKeep: () => void;
  /** "Yes, delete" was clicked. */
  onConfirm: () => void;
  /** The question (default "Delete?"). */
  question?: ReactNode;
  /** Disables "Yes, delete", e.g. while the delete is being sent. */
  busy?: boolean;
  /** Disables the Delete button; `reason` becomes its tooltip. */
  disabled?: boolean;
  reason?: string;
}

export function ConfirmDelete({ confirming, onAsk, onKeep, onConfirm, question = "Delete?", busy, disabled, reason }: ConfirmDeleteProps) {
  if (!confirming) {
    return (
      <button type="button" className="button small quiet" onClick={onAsk} disabled={disabled} title={reason}>
        Delete
      </button>
    );
  }
  return (
    <span className="confirm">
      {question}{" "}
      <button type="button" className="button small danger" onClick={onConfirm} disabled={busy}>
        Yes, delete
      </button>{" "}
      <button type="button" className="button small quiet" onClick={onKeep}>
        Keep
      </button>
    </span>
  );
}
