"""Voices and voice blends: ``"jf_alpha"`` or ``"jf_alpha:0.6+jm_kumo:0.4"``.

A Kokoro voice is a style matrix of shape ``(510, 1, 256)`` float32 (one 256-d
style vector per input length, see kokoro-onnx ``Kokoro._style_for``). A blend
mixes the matrices of up to ``MAX_BLEND_VOICES`` voices by weight, the way
Kokoro-FastAPI (``combine_voices``/weighted ``voice_a(0.6)+voice_b(0.4)``) and
kokoro-tts (``--voice "af_sarah:60,am_adam:40"``) do: the weights are normalized
to sum to 1 and the result is ``Σ wᵢ · styleᵢ``.

``parse_voice`` is pure (it checks against a list of voice ids); ``blend_style``
does the arithmetic on arrays it is given. The engine (``tts_wrapper``) reads the
style matrices from the loaded voices file.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: Most voices a blend may mix (the issue's limit; Kokoro-FastAPI sets none, more
#: than a handful is indistinguishable from an average voice anyway).
MAX_BLEND_VOICES = 5
#: Longest voice string accepted, characters (5 voices of ≤ 30 characters with weights).
MAX_VOICE_SPEC_LENGTH = 200
#: Decimals of a weight in the canonical form (0.1 % steps).
WEIGHT_DECIMALS = 4

_VOICE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")


class InvalidVoice(ValueError):
    """A voice string that names an unknown voice, has a bad weight, or mixes too many voices.

    The message names the problem for the user ("Unknown voice 'xx' in the blend; ...").
    """


@dataclass(frozen=True)
class VoiceBlend:
    """A parsed voice: ``components`` are ``(voice_id, weight)`` pairs sorted by voice id,
    weights normalized to sum to 1 (a single voice is ``((id, 1.0),)``)."""

    components: tuple[tuple[str, float], ...]

    @property
    def is_blend(self) -> bool:
        """True when more than one voice is mixed."""
        return len(self.components) > 1

    @property
    def canonical(self) -> str:
        """The normalized string: ``"jf_alpha"`` for one voice, else ``"a:0.6+b:0.4"``
        (sorted by voice id, weights rounded to 4 decimals without trailing zeros).
        Two strings that mix the same voices in the same proportions have the same
        canonical form (``"b:2+a:1"`` == ``"a:1+b:2"`` == ``"a:0.3333+b:0.6667"``)."""
        if not self.is_blend:
            return self.components[0][0]
        return "+".join(f"{voice}:{_format_weight(weight)}" for voice, weight in self.components)

    @property
    def primary(self) -> str:
        """The voice with the largest weight (the first by id on a tie)."""
        return max(self.components, key=lambda c: (c[1], -self.components.index(c)))[0]


def _format_weight(weight: float) -> str:
    text = f"{weight:.{WEIGHT_DECIMALS}f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_voice(spec: object, available: Sequence[str]) -> VoiceBlend:
    """Parse a voice id or a blend ``"id:weight+id:weight"`` and check it against ``available``.

    A weight may be omitted (``"a+b"`` mixes equally); weights are any positive
    finite numbers and are normalized (``"a:3+b:1"`` = ``"a:0.75+b:0.25"``).

    Raises:
        InvalidVoice: not a string, empty, longer than ``MAX_VOICE_SPEC_LENGTH``,
            an empty or malformed part, an unknown voice (the message lists the
            available ones), a weight that is not a positive finite number, a voice
            named twice, or more than ``MAX_BLEND_VOICES`` voices.
    """
    if not isinstance(spec, str):
        raise InvalidVoice("The voice must be a string such as \"jf_alpha\" or \"jf_alpha:0.6+jm_kumo:0.4\".")
    text = spec.strip()
    if not text:
        raise InvalidVoice("The voice is empty.")
    if len(text) > MAX_VOICE_SPEC_LENGTH:
        raise InvalidVoice(f"The voice is longer than {MAX_VOICE_SPEC_LENGTH} characters.")
    parts = [part.strip() for part in text.split("+")]
    if len(parts) > MAX_BLEND_VOICES:
        raise InvalidVoice(f"A blend mixes at most {MAX_BLEND_VOICES} voices; this one has {len(parts)}.")
    known = set(available)
    weights: dict[str, float] = {}
    for part in parts:
        if not part:
            raise InvalidVoice(f"Empty part in the blend {text!r}: write it as \"voice:weight+voice:weight\".")
        voice, sep, raw_weight = part.partition(":")
        voice = voice.strip()
        if not _VOICE_ID.match(voice):
            raise InvalidVoice(f"{voice!r} is not a voice id (letters, digits, '_' or '-').")
        if voice not in known:
            listed = ", ".join(available) or "none (no model installed)"
            where = " in the blend" if len(parts) > 1 else ""
            raise InvalidVoice(f"Unknown voice {voice!r}{where}; available voices: {listed}.")
        if voice in weights:
            raise InvalidVoice(f"The voice {voice!r} appears twice in the blend.")
        weight = 1.0
        if sep:
            try:
                weight = float(raw_weight.strip())
            except ValueError:
                raise InvalidVoice(f"The weight of {voice!r} must be a positive number, got {raw_weight.strip()!r}.") from None
            if not math.isfinite(weight) or weight <= 0:
                raise InvalidVoice(f"The weight of {voice!r} must be a positive number, got {raw_weight.strip()!r}.")
        weights[voice] = weight
    total = sum(weights.values())
    components = tuple(sorted((voice, weight / total) for voice, weight in weights.items()))
    return VoiceBlend(components)


def blend_style(blend: VoiceBlend, styles: Mapping[str, np.ndarray]) -> np.ndarray:
    """The style matrix of ``blend``: ``Σ weight · styles[voice]`` as float32.

    Args:
        blend: from ``parse_voice``.
        styles: voice id → style matrix, each of shape ``(510, 1, 256)`` (any equal shape).

    Raises:
        KeyError: a voice of the blend is missing from ``styles``.
        ValueError: the matrices differ in shape.
    """
    arrays = [(np.asarray(styles[voice], dtype=np.float32), weight) for voice, weight in blend.components]
    shape = arrays[0][0].shape
    if any(array.shape != shape for array, _ in arrays):
        raise ValueError(f"voice style matrices differ in shape: {[a.shape for a, _ in arrays]}")
    mixed = np.zeros(shape, dtype=np.float64)
    for array, weight in arrays:
        mixed += weight * array
    return mixed.astype(np.float32)


def language_for_voice(blend: VoiceBlend) -> str:
    """espeak-ng language for a voice: ``"en-gb"`` when the main voice is British
    (Kokoro's ``bf_``/``bm_`` prefixes, as kokoro-onnx's examples and Kokoro-FastAPI
    choose it), else ``"en-us"`` (American voices, and the bundled ``j*`` voices reading English)."""
    return "en-gb" if blend.primary.startswith(("bf_", "bm_")) else "en-us"
