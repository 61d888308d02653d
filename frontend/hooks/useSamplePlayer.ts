"use client";
/**
 * Plays voice samples (`POST /api/voices/preview/`, issue 9): the WAV comes
 * back as a `Blob`, is played through an object URL, and the URL is revoked
 * as soon as the sample ends, fails, is stopped, is replaced by the next one,
 * or the component unmounts.
 */
import { useCallback, useEffect, useRef, useState } from "react";

import type { VoicePreviewRequest } from "@/lib/types";
import { useVoicePreview } from "./useApi";

export interface SamplePlayer {
  /** Fetch and play the sample of `request` (stops the one playing). Rejects with the API error. */
  play: (request: VoicePreviewRequest) => Promise<void>;
  /** Stop the sample playing, if any, and release its URL. */
  stop: () => void;
  /** True while a sample plays. */
  playing: boolean;
  /** True while the sample is being made/fetched. */
  loading: boolean;
}

export function useSamplePlayer(): SamplePlayer {
  const preview = useVoicePreview();
  const current = useRef<{ audio: HTMLAudioElement; url: string } | null>(null);
  const [playing, setPlaying] = useState(false);

  const stop = useCallback(() => {
    const sample = current.current;
    if (!sample) return;
    current.current = null;
    sample.audio.pause();
    URL.revokeObjectURL(sample.url);
    setPlaying(false);
  }, []);
  useEffect(() => stop, [stop]);

  const { mutateAsync } = preview;
  const play = useCallback(
    async (request: VoicePreviewRequest) => {
      stop();
      const blob = await mutateAsync(request);
      const url = URL.createObjectURL(blob);
      const audio = new Audio(url);
      current.current = { audio, url };
      const finished = () => {
        if (current.current?.audio === audio) stop();
      };
      audio.addEventListener("ended", finished);
      audio.addEventListener("error", finished);
      setPlaying(true);
      try {
        await audio.play();
      } catch (error) {
        finished();
        throw error;
      }
    },
    [mutateAsync, stop],
  );

  return { play, stop, playing, loading: preview.isPending };
}
