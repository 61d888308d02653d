"""ETA prediction from measured synthesis speed (characters per wall second).

Two sources of speed are blended:

- the *learned* speed for the task's voice and speed factor
  (:class:`api.models.SynthesisSpeedProfile`), an exponentially decayed
  ``chars / seconds`` over earlier tasks, kept in the database so that it
  survives a restart (``progress-tracking-system-story.md``: "ETA prediction
  algorithm with learning", "ETA accuracy within 20 % for repeated tasks");
- the speed *measured* in the running task so far.

The measured speed takes over as the task accumulates characters:
``weight = measured_chars / (measured_chars + BLEND_CHARS)``. Between chunk
reports, progress is interpolated from the expected speed so that
``overall_progress`` and ``eta_seconds`` move smoothly (every 100 ms on the
event stream) and never jump backwards by more than a chunk's worth.

Everything here but :class:`SpeedProfiles` is pure arithmetic on numbers.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Characters of measured work at which the task's own speed and the learned
#: speed weigh equally (about one paragraph, ~7 s of synthesis here).
BLEND_CHARS = 500.0

#: Decay applied to a profile's sums before a new task is added: the last few
#: tasks dominate, so the profile follows a change of machine load or model.
PROFILE_DECAY = 0.5

#: Interpolation never claims more than this share of the chunk in flight, so a
#: chunk that runs slow does not show as done before it is.
MAX_INFLIGHT_SHARE = 0.95


def blend_speed(prior_cps: float | None, measured_chars: float, measured_seconds: float) -> float | None:
    """Expected characters per second from a learned prior and the task's own measurement.

    Args:
        prior_cps: learned chars/s for this voice and speed, or None if never measured.
        measured_chars: characters this task has synthesized so far.
        measured_seconds: wall seconds those characters took (> 0 to count).

    Returns:
        chars/s, or None when neither source has data.
    """
    measured = measured_chars / measured_seconds if measured_chars > 0 and measured_seconds > 0 else None
    if measured is None:
        return prior_cps
    if prior_cps is None:
        return measured
    weight = measured_chars / (measured_chars + BLEND_CHARS)
    return weight * measured + (1.0 - weight) * prior_cps


def interpolate_inflight(elapsed_in_chunk: float, cps: float | None, expected_chunk_chars: float) -> float:
    """Characters of the chunk in flight assumed done after ``elapsed_in_chunk`` seconds.

    ``min(elapsed * cps, MAX_INFLIGHT_SHARE * expected_chunk_chars)``; 0 without a speed.
    """
    if not cps or elapsed_in_chunk <= 0 or expected_chunk_chars <= 0:
        return 0.0
    return min(elapsed_in_chunk * cps, MAX_INFLIGHT_SHARE * expected_chunk_chars)


def estimate_eta(remaining_chars: float, cps: float | None) -> float | None:
    """Seconds left for ``remaining_chars`` at ``cps`` chars/s (None without a speed), 1 decimal."""
    if cps is None or cps <= 0:
        return None
    return round(max(0.0, remaining_chars) / cps, 1)


@dataclass(frozen=True)
class SpeedKey:
    """A profile's key: the voice id and the speed factor rounded to 2 decimals."""

    voice_id: str
    speed: float

    @classmethod
    def of(cls, voice_id: str | None, speed: float | None) -> "SpeedKey":
        return cls(voice_id or "", round(float(speed or 1.0), 2))


class SpeedProfiles:
    """Learned chars/s per (voice, speed), cached in memory and persisted in the database.

    Thread-safe. ``lookup`` reads the cache (one query the first time a key is
    seen); ``record`` adds a finished task's work and writes the row.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[SpeedKey, tuple[float, float]] = {}  # key -> (chars, seconds)

    def lookup(self, voice_id: str | None, speed: float | None) -> float | None:
        """Learned chars/s for the voice and speed, or None if never measured."""
        key = SpeedKey.of(voice_id, speed)
        with self._lock:
            sums = self._cache.get(key)
        if sums is None:
            sums = self._load(key)
            with self._lock:
                self._cache[key] = sums
        chars, seconds = sums
        return chars / seconds if seconds > 0 else None

    def record(self, voice_id: str | None, speed: float | None, chars: float, seconds: float) -> float | None:
        """Fold one task's work (characters, wall seconds) into the profile; return the new chars/s.

        Ignored when either is not positive (nothing measured).
        """
        if chars <= 0 or seconds <= 0:
            return self.lookup(voice_id, speed)
        key = SpeedKey.of(voice_id, speed)
        self.lookup(voice_id, speed)  # make sure the key is cached (reads the row once)
        with self._lock:
            old_chars, old_seconds = self._cache[key]
            new = (old_chars * PROFILE_DECAY + chars, old_seconds * PROFILE_DECAY + seconds)
            self._cache[key] = new
        try:
            from api.models import SynthesisSpeedProfile

            profile, _ = SynthesisSpeedProfile.objects.get_or_create(voice_id=key.voice_id, speed=key.speed)
            profile.chars, profile.seconds = new
            profile.samples += 1
            profile.save()
        except Exception:  # a lost sample only makes the next ETA a little worse
            logger.exception("Could not save the synthesis speed profile for %s", key)
        return new[0] / new[1]

    def clear_cache(self) -> None:
        """Forget cached profiles (they are read again from the database)."""
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _load(key: SpeedKey) -> tuple[float, float]:
        from api.models import SynthesisSpeedProfile

        try:
            row = SynthesisSpeedProfile.objects.filter(voice_id=key.voice_id, speed=key.speed).first()
        except Exception:  # no table yet (before migrate): no prior
            return (0.0, 0.0)
        return (row.chars, row.seconds) if row else (0.0, 0.0)
