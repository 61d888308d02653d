"use client";
/** The settings page: the narrator voice (from the installed model) and the speed (0.5–2.0), saved together. */
import { useEffect, useState } from "react";

import { useSettings, useUpdateSettings, useVoices } from "@/hooks/useApi";
import { MAX_TTS_SPEED, MIN_TTS_SPEED } from "@/lib/types";

export function SettingsForm() {
  const settings = useSettings();
  const voices = useVoices();
  const save = useUpdateSettings();
  const [voice, setVoice] = useState("");
  const [speed, setSpeed] = useState(1);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (settings.data) {
      setVoice(settings.data.default_voice_id);
      setSpeed(settings.data.tts_speed);
    }
  }, [settings.data]);

  const dirty = !!settings.data && (voice !== settings.data.default_voice_id || speed !== settings.data.tts_speed);
  const speedValid = Number.isFinite(speed) && speed >= MIN_TTS_SPEED && speed <= MAX_TTS_SPEED;

  return (
    <div className="settings">
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <section className="panel narrow">
        {settings.isPending || voices.isPending ? <p className="muted">Loading…</p> : null}
        {settings.isError ? (
          <p className="inline-error" role="alert">
            Could not load the settings: {settings.error.message}
          </p>
        ) : null}
        {voices.data && !voices.data.model_available ? (
          <p className="inline-error" role="alert">
            No TTS model is installed: run <code>.venv/bin/python manage.py install_model</code>.
          </p>
        ) : null}
        {settings.data ? (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              setSaved(false);
              save.mutate({ default_voice_id: voice, tts_speed: speed }, { onSuccess: () => setSaved(true) });
            }}
          >
            <label className="field">
              <span>Voice</span>
              <select value={voice} onChange={(event) => { setVoice(event.target.value); setSaved(false); }}>
                {/* The saved voice may be a blend (issue 9) or no longer installed: keep it selectable. */}
                {[...new Set([...(voices.data?.voices ?? []), ...(voice ? [voice] : [])])].map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>
                Speed <strong data-testid="speed-value">{speed.toFixed(2)}×</strong>
              </span>
              <input
                type="range"
                min={MIN_TTS_SPEED}
                max={MAX_TTS_SPEED}
                step={0.05}
                value={speed}
                onChange={(event) => { setSpeed(Number(event.target.value)); setSaved(false); }}
                aria-label="Speed"
              />
              <span className="range-ends muted">
                <span>{MIN_TTS_SPEED}× slower</span>
                <span>{MAX_TTS_SPEED}× faster</span>
              </span>
            </label>
            <p className="muted">New settings apply to audio generated from now on; existing audio is kept.</p>
            <div className="form-row">
              <button type="submit" className="button primary" disabled={!dirty || !speedValid || save.isPending}>
                {save.isPending ? "Saving…" : "Save settings"}
              </button>
              {saved && !dirty ? <span className="muted" role="status">Saved.</span> : null}
            </div>
            {save.isError ? (
              <p className="inline-error" role="alert">
                {save.error.message}
              </p>
            ) : null}
            {voices.data?.model_variant ? <p className="muted small">Model: {voices.data.model_variant}</p> : null}
          </form>
        ) : null}
      </section>
    </div>
  );
}
