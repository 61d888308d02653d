"""How a project's segments are to be read, and whether existing audio still matches.

- **Voice and speed inherit**: a segment's own ``voice``/``speed``, else its
  project's, else ``GlobalSettings`` (``default_voice_id``, ``tts_speed``). A voice
  is an id or a blend (``core_engine.voices``), stored in canonical form.
- **Lexicon**: the project's ``PronunciationRule`` rows, compiled once per set of
  rules (``core_engine.lexicon.compile_lexicon``).
- **Audio identity**: a SHA-256 over what a segment's audio is made from: its spoken
  text (normalized, lexicon applied: ``tts_wrapper.spoken_form_of``), the lexicon
  rules that matched, the voice, the speed, the model variant and the engine version.
  It is stored with the audio (``Segment.audio_identity``); audio whose stored
  identity differs from the current one is *stale* (out of date). Audio made
  before identities were recorded has none and is never called stale.

``NarrationContext`` answers these for many segments of one project with one
settings read, one rules query and one model-files lookup.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

from api.models import MAX_TTS_SPEED, MIN_TTS_SPEED, GlobalSettings, Project, PronunciationRule, Segment
from api.services.errors import SpeedOutOfRange, UnknownVoice
from core_engine import tts_wrapper
from core_engine.lexicon import EMPTY_LEXICON, Lexicon, compile_lexicon
from core_engine.model_loader import KokoroModelLoader
from core_engine.voices import InvalidVoice, language_for_voice, parse_voice


@dataclass(frozen=True)
class VoiceSettings:
    """A voice (id or canonical blend) and a speed factor (0.5–2.0)."""

    voice_id: str
    speed: float

    @property
    def rate_key(self) -> tuple[str, float]:
        """The key its synthesis speed (characters per second) is learned under."""
        return (self.voice_id, round(float(self.speed), 2))

    def as_params(self) -> dict[str, Any]:
        """The task params that rebuild it after a restart."""
        return {"voice_id": self.voice_id, "speed": self.speed}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "VoiceSettings | None":
        """Inverse of :meth:`as_params`; None when the task had no voice (an export with nothing to narrate)."""
        if not params.get("voice_id"):
            return None
        return cls(voice_id=params["voice_id"], speed=float(params.get("speed") or 1.0))


def canonical_voice(voice: str) -> str:
    """``voice`` checked against the installed voices and written canonically (see ``VoiceBlend.canonical``).

    Raises:
        UnknownVoice: an unknown voice, a bad weight, or more than 5 voices (the message says which).
    """
    available = KokoroModelLoader.get_voices()
    try:
        return parse_voice(voice, available).canonical
    except InvalidVoice as exc:
        raise UnknownVoice(voice, available, message=str(exc)) from None


def check_voice_settings(voice: VoiceSettings) -> VoiceSettings:
    """``voice`` with its voice canonical, checked.

    Raises:
        UnknownVoice: see :func:`canonical_voice`.
        SpeedOutOfRange: the speed is outside 0.5–2.0.
    """
    canonical = canonical_voice(voice.voice_id)
    if not MIN_TTS_SPEED <= float(voice.speed) <= MAX_TTS_SPEED:
        raise SpeedOutOfRange(voice.speed, MIN_TTS_SPEED, MAX_TTS_SPEED)
    return VoiceSettings(canonical, float(voice.speed))


def project_lexicon(project_id) -> Lexicon:
    """The compiled lexicon of a project (oldest rule first); the empty lexicon when it has none."""
    rows = PronunciationRule.objects.filter(project_id=project_id).order_by("created_at", "id")
    return compile_lexicon(tuple(rule.as_lexicon_rule() for rule in rows))


def current_model_variant() -> str:
    """The model variant synthesis uses now (``ModelFiles.variant``), or "" with no model installed."""
    files = KokoroModelLoader.resolve_model_files()
    return files.variant if files else ""


@dataclass(frozen=True)
class AudioIdentity:
    """What a segment's audio is made from (``source``) and its SHA-256 hex digest (``digest``).

    ``source`` keys: ``spoken_sha256`` (of the spoken text, UTF-8), ``rules`` (the
    matching rules' patterns and replacements), ``voice``, ``speed``, ``model_variant``,
    ``engine_version``.
    """

    digest: str
    source: dict[str, Any]


def audio_identity(
    text: str, voice: VoiceSettings, lexicon: Lexicon = EMPTY_LEXICON, model_variant: str = ""
) -> AudioIdentity:
    """The identity of the audio ``text`` would get with ``voice``, ``lexicon`` and ``model_variant`` now."""
    spoken = tts_wrapper.spoken_form_of(text, lexicon)
    by_key = {rule.key: rule for rule in lexicon.rules}
    source = {
        "spoken_sha256": hashlib.sha256(spoken.text.encode("utf-8")).hexdigest(),
        "rules": [[by_key[key].pattern, by_key[key].replacement, by_key[key].case_sensitive] for key in spoken.rule_keys],
        "voice": voice.voice_id,
        "speed": round(float(voice.speed), 4),
        "model_variant": model_variant,
        "engine_version": tts_wrapper.ENGINE_VERSION,
    }
    digest = hashlib.sha256(json.dumps(source, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return AudioIdentity(digest, source)


class NarrationContext:
    """Voice inheritance, lexicon and audio identity for the segments of one project.

    Build it with :meth:`for_project` (reads GlobalSettings, the project's rules and the
    model files once). Not shared across threads or requests: settings read now stay.
    """

    def __init__(self, project: Project, settings: GlobalSettings, lexicon: Lexicon, model_variant: str):
        self.project = project
        self.settings = settings
        self.lexicon = lexicon
        self.model_variant = model_variant

    @classmethod
    def for_project(cls, project: Project, settings: GlobalSettings | None = None) -> "NarrationContext":
        """The context of ``project`` now; ``settings`` saves a read when the caller has them."""
        return cls(project, settings or GlobalSettings.load(), project_lexicon(project.pk), current_model_variant())

    @property
    def project_voice(self) -> VoiceSettings:
        """The project's voice and speed, GlobalSettings filling what it leaves null."""
        return VoiceSettings(
            self.project.voice or self.settings.default_voice_id,
            float(self.settings.tts_speed if self.project.speed is None else self.project.speed),
        )

    def voice_for(self, segment: Segment) -> VoiceSettings:
        """The voice and speed ``segment`` is read with (its own, else the project's)."""
        base = self.project_voice
        return VoiceSettings(
            segment.voice or base.voice_id, float(base.speed if segment.speed is None else segment.speed)
        )

    def identity_for(self, segment: Segment) -> AudioIdentity:
        """The identity audio of ``segment`` would have if made now."""
        return audio_identity(segment.text_content or "", self.voice_for(segment), self.lexicon, self.model_variant)

    def is_stale(self, segment: Segment) -> bool:
        """True when ``segment`` has audio with a recorded identity that no longer matches."""
        if not segment.audio_file or not segment.audio_identity:
            return False
        return self.identity_for(segment).digest != segment.audio_identity

    def voices_used(self, segments: Iterable[Segment]) -> list[VoiceSettings]:
        """The distinct voices ``segments`` are read with, in first-use order."""
        seen: dict[tuple[str, float], VoiceSettings] = {}
        for segment in segments:
            voice = self.voice_for(segment)
            seen.setdefault((voice.voice_id, voice.speed), voice)
        return list(seen.values())


def stale_segment_ids(project: Project) -> list[str]:
    """Ids of the project's segments whose audio is stale now, in reading order."""
    context = NarrationContext.for_project(project)
    segments = project.segments.order_by("sequence_index", "id")
    return [str(segment.id) for segment in segments if context.is_stale(segment)]


def preview_text(text: str, project: Project | None = None, voice: str | None = None) -> dict[str, Any]:
    """How ``text`` will be read (``POST /api/speech/preview/``), with ``project``'s lexicon.

    ``voice`` (canonical, already checked) picks the phonemizer's language (British
    voices read en-gb); it defaults to the project's voice, then GlobalSettings'.

    Returns:
        ``{"spoken_text": str, "phonemes": str, "token_count": int, "rules_applied": [rule id, ...]}``.
    """
    lexicon = project_lexicon(project.pk) if project is not None else EMPTY_LEXICON
    if voice is None:
        voice = (project.voice if project is not None else None) or GlobalSettings.load().default_voice_id
    try:
        lang = language_for_voice(parse_voice(voice, KokoroModelLoader.get_voices()))
    except InvalidVoice:  # a stored voice no longer installed: the default language
        lang = tts_wrapper.LANG
    preview = tts_wrapper.preview_speech(text, lexicon, lang)
    return {
        "spoken_text": preview.spoken_text,
        "phonemes": preview.phonemes,
        "token_count": preview.token_count,
        "rules_applied": list(preview.rule_keys),
    }
