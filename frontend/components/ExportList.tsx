"use client";
/**
 * Past exports of a project, newest first: format, duration, size, date,
 * download links (book, SRT, VTT), Listen (opens it in the book player),
 * Delete (with a confirmation), and for ACX the report's verdict per file.
 */
import { useState } from "react";

import { describeCheck, failedChecks } from "@/lib/acx";
import { countOf, errorMessage, formatBytes, formatDate, formatDuration } from "@/lib/format";
import type { AudiobookExport } from "@/lib/types";
import { ConfirmDelete } from "./ConfirmDelete";

/** A file name for a download: the book title made safe, and the extension of the served file. */
export function downloadName(bookTitle: string, url: string | null | undefined, fallbackExtension: string): string {
  const base = bookTitle.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ").replace(/\s+/g, " ").trim() || "audiobook";
  const extension = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url ?? "")?.[1]?.toLowerCase() ?? fallbackExtension;
  return `${base}.${extension}`;
}

/** The download links of one export: the book (or ACX zip) and its captions. */
export function ExportLinks({ book, bookTitle }: { book: AudiobookExport; bookTitle: string }) {
  const format = book.format.toUpperCase();
  return (
    <span className="export-links">
      <a href={book.url} download={downloadName(bookTitle, book.url, book.format)} data-testid="export-download">
        Download {format === "ACX" ? "ACX zip" : format}
      </a>
      {book.captions.srt ? (
        <a href={book.captions.srt} download={downloadName(bookTitle, book.captions.srt, "srt")} data-testid="export-srt">
          SRT
        </a>
      ) : null}
      {book.captions.vtt ? (
        <a href={book.captions.vtt} download={downloadName(bookTitle, book.captions.vtt, "vtt")} data-testid="export-vtt">
          VTT
        </a>
      ) : null}
    </span>
  );
}

/** The ACX report of one export: overall verdict and one line per file, with the failed checks named. */
export function AcxReportView({ report }: { report: AudiobookExport["report"] }) {
  if (!report) return null;
  const mark = (passed: boolean) => (passed ? "✓" : "✗");
  const verdictClass = (passed: boolean) => (passed ? "pass" : "fail");
  return (
    <details className="acx-report" data-testid="acx-report">
      <summary>
        ACX check:{" "}
        <strong className={verdictClass(report.passed)} data-testid="acx-verdict">
          {report.passed ? "passed" : "failed"}
        </strong>
        {report.files.length
          ? ` (${report.files.filter((file) => file.passed).length} of ${report.files.length} files pass)`
          : ""}
      </summary>
      <ul className="acx-files">
        {report.files.map((file) => {
          const failed = failedChecks(file);
          return (
            <li
              key={file.file}
              data-testid="acx-file"
              data-passed={String(file.passed)}
              title={Object.entries(file.checks)
                .map(([name, check]) => `${mark(check.passed)} ${describeCheck(name, check)}`)
                .join("\n")}
            >
              <span className={verdictClass(file.passed)}>{mark(file.passed)}</span> {file.file}
              {failed.length ? <span className="muted"> — failed: {failed.join("; ")}</span> : null}
              {file.error ? <span className="muted"> — {file.error}</span> : null}
            </li>
          );
        })}
      </ul>
    </details>
  );
}

export interface ExportListProps {
  exports: AudiobookExport[];
  bookTitle: string;
  /** The export shown in the book player, if any. */
  listeningId: string | null;
  onListen: (exportId: string) => void;
  /** Delete an export; rejects with the API error. */
  onDelete: (exportId: string) => Promise<unknown>;
}

/** The list of past exports. */
export function ExportList({ exports, bookTitle, listeningId, onListen, onDelete }: ExportListProps) {
  const [confirming, setConfirming] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  if (!exports.length) return <p className="muted small">No exports yet.</p>;

  const remove = async (exportId: string) => {
    setDeleting(exportId);
    setProblem(null);
    try {
      await onDelete(exportId);
    } catch (error) {
      setProblem(`Could not delete the export: ${errorMessage(error)}`);
    } finally {
      setDeleting(null);
      setConfirming(null);
    }
  };

  return (
    <>
      <ul className="export-list" data-testid="export-list" aria-label="Past exports">
        {exports.map((book) => (
          <li key={book.id} className="export-row" data-testid="export-row" data-export-id={book.id} data-format={book.format}>
            <div className="export-main">
              <strong>{book.format.toUpperCase()}</strong>
              <span className="muted small">
                {formatDuration(book.duration)} · {formatBytes(book.size_bytes)} · {countOf(book.chapters.length, "chapter")} ·{" "}
                {formatDate(book.created_at)}
              </span>
            </div>
            <div className="export-actions">
              <ExportLinks book={book} bookTitle={bookTitle} />
              {book.format !== "acx" ? (
                <button
                  type="button"
                  className={`button small${listeningId === book.id ? " toggle on" : ""}`}
                  onClick={() => onListen(book.id)}
                  aria-pressed={listeningId === book.id}
                >
                  Listen
                </button>
              ) : null}
              <ConfirmDelete
                confirming={confirming === book.id}
                onAsk={() => setConfirming(book.id)}
                onKeep={() => setConfirming(null)}
                onConfirm={() => remove(book.id)}
                busy={deleting === book.id}
              />
            </div>
            {book.format === "acx" ? <AcxReportView report={book.report} /> : null}
          </li>
        ))}
      </ul>
      {problem ? (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      ) : null}
    </>
  );
}
