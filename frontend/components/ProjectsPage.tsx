"use client";
/**
 * The projects page: every project with its size and narration length, a
 * form to create an empty project, a form to import a story (pasted text, or
 * a `.txt`, `.md` or `.epub` file uploaded as it is), and delete with an
 * inline confirmation.
 */
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";

import { useCreateProject, useDeleteProject, useImportStory, useProjects } from "@/hooks/useApi";
import { countOf, formatBytes, formatDate, formatDuration } from "@/lib/format";
import { importFileProblem } from "@/lib/importFile";
import { IMPORT_FILE_EXTENSIONS } from "@/lib/types";
import { ConfirmDelete } from "./ConfirmDelete";

export function ProjectsPage() {
  const router = useRouter();
  const projects = useProjects();
  const createProject = useCreateProject();
  const importStory = useImportStory();
  const deleteProject = useDeleteProject();

  const [newTitle, setNewTitle] = useState("");
  const [importTitle, setImportTitle] = useState("");
  const [importText, setImportText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const [confirming, setConfirming] = useState<string | null>(null);

  const paragraphs = importText.split(/\n[ \t]*\n/).filter((part) => part.trim()).length;

  const chooseFile = (chosen: File | undefined) => {
    importStory.reset();
    setFile(chosen ?? null);
    setFileProblem(chosen ? importFileProblem(chosen) : null);
  };
  const clearFile = () => {
    chooseFile(undefined);
    if (fileInput.current) fileInput.current.value = "";
  };
  const openProject = (project: { id: string }) => router.push(`/projects/${project.id}`);

  const canImport = file ? !fileProblem : !!importText.trim() && !!importTitle.trim();

  return (
    <div className="projects">
      <div className="page-head">
        <h1>Projects</h1>
      </div>

      <div className="columns">
        <section className="panel" aria-labelledby="import-heading">
          <h2 id="import-heading">Import a story</h2>
          <p className="muted">
            Paste a story (one segment per paragraph; a blank line starts a new one), or choose a{" "}
            <code>.txt</code>, <code>.md</code> or <code>.epub</code> file. Markdown <code>#</code> headings and EPUB
            chapters become chapters.
          </p>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              if (!canImport || importStory.isPending) return;
              importStory.mutate(file ? { file, title: importTitle.trim() } : { title: importTitle.trim(), text: importText }, {
                onSuccess: openProject,
              });
            }}
          >
            <label className="field">
              <span>Title{file ? " (optional: the book's own title is used when blank)" : ""}</span>
              <input
                value={importTitle}
                onChange={(event) => setImportTitle(event.target.value)}
                required={!file}
                maxLength={255}
              />
            </label>
            {file ? null : (
              <label className="field">
                <span>Story text</span>
                <textarea
                  value={importText}
                  onChange={(event) => setImportText(event.target.value)}
                  rows={8}
                  required
                  placeholder={"Paste the story here.\n\nA blank line starts a new segment.\n\n# A heading starts a chapter"}
                />
              </label>
            )}
            <label className="field file">
              <span>{file ? "File" : "…or choose a file"} (.txt, .md or .epub, up to 50 MB)</span>
              <input
                ref={fileInput}
                type="file"
                accept={`${IMPORT_FILE_EXTENSIONS.join(",")},text/plain,text/markdown,application/epub+zip`}
                onChange={(event) => chooseFile(event.target.files?.[0])}
              />
            </label>
            {file ? (
              <p className="muted file-chosen" data-testid="import-file">
                {file.name} ({formatBytes(file.size)}){fileProblem ? "" : " will be uploaded and imported."}{" "}
                <button type="button" className="button small quiet" onClick={clearFile}>
                  Paste text instead
                </button>
              </p>
            ) : null}
            {fileProblem ? (
              <p className="inline-error" role="alert">
                {fileProblem}
              </p>
            ) : null}
            <div className="form-row">
              <button type="submit" className="button primary" disabled={importStory.isPending || !canImport}>
                {importStory.isPending ? (file ? "Uploading…" : "Importing…") : "Import"}
              </button>
              <span className="muted">
                {!file && importText.trim() ? countOf(paragraphs, "paragraph") : ""}
              </span>
            </div>
            {importStory.error ? (
              <p className="inline-error" role="alert" data-testid="import-error">
                {importStory.error.message}
              </p>
            ) : null}
          </form>
        </section>

        <section className="panel" aria-labelledby="create-heading">
          <h2 id="create-heading">New empty project</h2>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              createProject.mutate(newTitle.trim(), {
                onSuccess: (project) => router.push(`/projects/${project.id}`),
              });
            }}
          >
            <label className="field">
              <span>Title</span>
              <input value={newTitle} onChange={(event) => setNewTitle(event.target.value)} required maxLength={255} />
            </label>
            <div className="form-row">
              <button type="submit" className="button" disabled={createProject.isPending || !newTitle.trim()}>
                Create
              </button>
            </div>
            {createProject.isError ? (
              <p className="inline-error" role="alert">
                {createProject.error.message}
              </p>
            ) : null}
          </form>
        </section>
      </div>

      <section aria-labelledby="list-heading">
        <h2 id="list-heading">Your stories</h2>
        {projects.isPending ? <p className="muted">Loading…</p> : null}
        {projects.isError ? (
          <p className="inline-error" role="alert">
            Could not load the projects: {projects.error.message}. Is the Django server running?
          </p>
        ) : null}
        {projects.data && !projects.data.length ? <p className="muted">No projects yet: import a story above.</p> : null}
        <ul className="project-list" data-testid="project-list">
          {projects.data?.map((project) => (
            <li key={project.id} className="project-row" data-testid="project-row">
              <div className="project-main">
                <Link href={`/projects/${project.id}`} className="project-link">
                  {project.title}
                </Link>
                <span className="muted">
                  {project.segment_count} segments · {formatDuration(project.total_audio_duration)} of audio · updated{" "}
                  {formatDate(project.updated_at)}
                </span>
              </div>
              <ConfirmDelete
                confirming={confirming === project.id}
                onAsk={() => setConfirming(project.id)}
                onKeep={() => setConfirming(null)}
                onConfirm={() => deleteProject.mutate(project.id, { onSettled: () => setConfirming(null) })}
                question={<>Delete “{project.title}” and its audio?</>}
                busy={deleteProject.isPending}
              />
            </li>
          ))}
        </ul>
        {deleteProject.isError ? (
          <p className="inline-error" role="alert">
            {deleteProject.error.message}
          </p>
        ) : null}
      </section>
    </div>
  );
}
