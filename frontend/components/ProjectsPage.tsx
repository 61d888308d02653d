"use client";
/**
 * The projects page: every project with its size and narration length, a
 * form to create an empty project, a form to import a story (pasted, or read
 * from a `.txt` file), and delete with an inline confirmation.
 */
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";

import { useCreateProject, useDeleteProject, useImportStory, useProjects } from "@/hooks/useApi";
import { formatDate, formatDuration } from "@/lib/format";

/** Title from a story file: its first line `# Title`, else the file name without its extension. */
export function titleFromFile(fileName: string, text: string): string {
  const first = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
  const heading = /^#{1,6}\s+(.+)$/.exec(first);
  if (heading) return heading[1].trim();
  return fileName.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || "Untitled story";
}

export function ProjectsPage() {
  const router = useRouter();
  const projects = useProjects();
  const createProject = useCreateProject();
  const importStory = useImportStory();
  const deleteProject = useDeleteProject();

  const [newTitle, setNewTitle] = useState("");
  const [importTitle, setImportTitle] = useState("");
  const [importText, setImportText] = useState("");
  const [fileNote, setFileNote] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);

  const paragraphs = importText.split(/\n[ \t]*\n/).filter((part) => part.trim()).length;

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    const text = await file.text();
    setImportText(text);
    if (!importTitle.trim()) setImportTitle(titleFromFile(file.name, text));
    setFileNote(`Read ${file.name} (${text.length.toLocaleString()} characters).`);
  };

  return (
    <div className="projects">
      <div className="page-head">
        <h1>Projects</h1>
      </div>

      <div className="columns">
        <section className="panel" aria-labelledby="import-heading">
          <h2 id="import-heading">Import a story</h2>
          <p className="muted">One segment per paragraph (paragraphs are separated by a blank line).</p>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              importStory.mutate(
                { title: importTitle.trim(), text: importText },
                { onSuccess: (project) => router.push(`/projects/${project.id}`) },
              );
            }}
          >
            <label className="field">
              <span>Title</span>
              <input value={importTitle} onChange={(event) => setImportTitle(event.target.value)} required maxLength={255} />
            </label>
            <label className="field">
              <span>Story text</span>
              <textarea
                value={importText}
                onChange={(event) => setImportText(event.target.value)}
                rows={8}
                required
                placeholder={"Paste the story here.\n\nA blank line starts a new segment."}
              />
            </label>
            <label className="field file">
              <span>…or read a .txt file</span>
              <input type="file" accept=".txt,text/plain" onChange={(event) => onFile(event.target.files?.[0])} />
            </label>
            {fileNote ? <p className="muted">{fileNote}</p> : null}
            <div className="form-row">
              <button type="submit" className="button primary" disabled={importStory.isPending || !importText.trim() || !importTitle.trim()}>
                {importStory.isPending ? "Importing…" : "Import"}
              </button>
              <span className="muted">{importText.trim() ? `${paragraphs} paragraph${paragraphs === 1 ? "" : "s"}` : ""}</span>
            </div>
            {importStory.isError ? (
              <p className="inline-error" role="alert">
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
              {confirming === project.id ? (
                <span className="confirm">
                  Delete “{project.title}” and its audio?{" "}
                  <button
                    type="button"
                    className="button small danger"
                    onClick={() => deleteProject.mutate(project.id, { onSettled: () => setConfirming(null) })}
                    disabled={deleteProject.isPending}
                  >
                    Yes, delete
                  </button>{" "}
                  <button type="button" className="button small quiet" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button type="button" className="button small quiet" onClick={() => setConfirming(project.id)}>
                  Delete
                </button>
              )}
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
