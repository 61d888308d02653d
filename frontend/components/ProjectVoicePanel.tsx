"use client";
/**
 * The project's narrator (issue 9): its voice or blend and its speed, which
 * every segment without its own uses. Default = the global settings
 * (`/settings`). Saving PATCHes the project; segments that inherit the new
 * voice or speed then show "Out of date".
 */
import Link from "next/link";

import { useSettings, useUpdateProject } from "@/hooks/useApi";
import type { Project } from "@/lib/types";
import { VoicePicker } from "./VoicePicker";

export function ProjectVoicePanel({ project }: { project: Project }) {
  const settings = useSettings();
  const update = useUpdateProject(project.id);
  return (
    <section className="panel voice-panel" aria-labelledby="voice-heading">
      <h2 id="voice-heading">Narrator voice</h2>
      <VoicePicker
        label="Project voice"
        value={{ voice: project.voice, speed: project.speed }}
        inherited={{
          voice: settings.data?.default_voice_id ?? "",
          speed: settings.data?.tts_speed ?? 1,
          from: "Settings",
        }}
        onSave={(choice) => update.mutateAsync(choice)}
      />
      <p className="small muted">
        Segments use this unless they have their own voice. The default comes from <Link href="/settings">Settings</Link>;
        pronunciations from the <Link href={`/projects/${project.id}/lexicon`}>lexicon</Link>.
      </p>
    </section>
  );
}
