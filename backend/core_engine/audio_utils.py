"""Audio post-processing and file I/O for generated narration.

Audio arrays are 1-D float32 mono in [-1, 1]; sample rates in Hz; durations in
seconds. Output files are WAV, 24 000 Hz (Kokoro's native rate), mono, 16-bit PCM.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from core_engine.atomic_files import atomic_write_path

#: Integrated loudness target for narration, LUFS. ACX (Audible) requires
#: audiobook files between -23 and -18 dB RMS with peaks below -3 dBFS; EBU R128
#: (-23 LUFS) targets broadcast, podcasts/spoken word commonly use -16 to -19 LUFS.
#: -18 LUFS sits at the loud end of the ACX window and close to spoken-word norms.
TARGET_LUFS = -18.0
#: Sample-peak ceiling after gain, dBFS (-1 dBFS: the usual limit for lossy re-encoding headroom).
PEAK_CEILING_DBFS = -1.0
#: pyloudnorm's gating block is 400 ms (ITU-R BS.1770-4); shorter audio cannot be measured.
LOUDNESS_BLOCK_SECONDS = 0.4
#: Default fade length in seconds (5 ms: inaudible as a fade, long enough to remove a click).
DEFAULT_FADE_SECONDS = 0.005
#: Below this RMS the audio is treated as silence and left unchanged (≈ -100 dBFS).
_SILENCE_RMS = 1e-5
# Read once at import: os.umask can only be read by setting it, which is not thread-safe.


def get_audio_duration(path: str | Path) -> float:
    """Duration of an audio file in seconds (from its header via ``soundfile.info``).

    Raises:
        RuntimeError / soundfile.LibsndfileError: unreadable file; FileNotFoundError if missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    info = sf.info(str(path))
    return info.frames / float(info.samplerate)


def _peak_gain(audio: np.ndarray, ceiling_dbfs: float) -> float:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0.0:
        return 1.0
    return 10 ** (ceiling_dbfs / 20) / peak


def normalize_loudness(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float = TARGET_LUFS,
    peak_ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> np.ndarray:
    """Scale ``audio`` to ``target_lufs`` integrated loudness, keeping peaks ≤ ``peak_ceiling_dbfs``.

    Loudness is ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms gated
    blocks) measured with ``pyloudnorm.Meter``. A single gain is applied; if it
    would push the sample peak above the ceiling the gain is reduced to meet the
    ceiling (so very peaky audio ends up a little quieter than the target, never clipped).

    Audio shorter than one 400 ms block cannot be measured: it is peak-normalized
    to the ceiling instead. Silent (or near-silent, RMS < 1e-5) audio is returned
    unchanged; the result never contains NaN/inf.

    Args:
        audio: 1-D float array, mono.
        sample_rate: Hz.
        target_lufs: LUFS (default -18, see ``TARGET_LUFS``).
        peak_ceiling_dbfs: dBFS sample-peak ceiling (default -1).

    Returns:
        A new float32 array of the same length.
    """
    audio = np.nan_to_num(np.asarray(audio, dtype=np.float64).ravel())
    if audio.size == 0 or float(np.sqrt(np.mean(audio**2))) < _SILENCE_RMS:
        return audio.astype(np.float32)

    ceiling_gain = _peak_gain(audio, peak_ceiling_dbfs)
    if audio.size < int(LOUDNESS_BLOCK_SECONDS * sample_rate) + 1:
        return (audio * ceiling_gain).astype(np.float32)

    import pyloudnorm

    loudness = pyloudnorm.Meter(sample_rate).integrated_loudness(audio)
    if not math.isfinite(loudness):  # every block gated out (e.g. only clicks)
        return (audio * ceiling_gain).astype(np.float32)
    gain = 10 ** ((target_lufs - loudness) / 20)
    gain = min(gain, ceiling_gain)
    return (audio * gain).astype(np.float32)


def apply_fades(audio: np.ndarray, sample_rate: int, fade_seconds: float = DEFAULT_FADE_SECONDS) -> np.ndarray:
    """Raised-cosine (Hann half-window) fade-in and fade-out of ``fade_seconds`` each.

    Removes the discontinuity (audible click) where chunks are joined. The fade
    is shortened to half the audio length for very short audio.

    Returns:
        A new float32 array of the same length.
    """
    out = np.array(audio, dtype=np.float32, copy=True).ravel()
    n = min(int(round(fade_seconds * sample_rate)), out.size // 2)
    if n <= 0:
        return out
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


def pause_samples(pause: float, sample_rate: int) -> int:
    """Samples of silence for a pause of ``pause`` seconds (negative counts as 0), rounded to the nearest sample."""
    return int(round(max(0.0, float(pause)) * sample_rate))


def part_offsets(lengths: Sequence[int], pauses: Sequence[float], sample_rate: int) -> list[int]:
    """Where each part starts in ``join_with_pauses(parts, pauses, sample_rate)``, in samples.

    Args:
        lengths: each part's length in samples.
        pauses: seconds of silence after each part, same length as ``lengths``.
        sample_rate: Hz.

    Returns:
        ``[0, len_0 + pause_0, ...]``: one offset per part (the same arithmetic the join uses).

    Raises:
        ValueError: ``lengths`` and ``pauses`` differ in length.
    """
    if len(lengths) != len(pauses):
        raise ValueError(f"{len(lengths)} parts but {len(pauses)} pauses")
    offsets: list[int] = []
    position = 0
    for length, pause in zip(lengths, pauses):
        offsets.append(position)
        position += int(length) + pause_samples(pause, sample_rate)
    return offsets


def join_with_pauses(parts: Sequence[np.ndarray], pauses: Sequence[float], sample_rate: int) -> np.ndarray:
    """Concatenate audio ``parts``, inserting ``pauses[i]`` seconds of silence after ``parts[i]``.

    Part i starts at sample ``part_offsets(...)[i]`` of the result.

    Args:
        parts: 1-D float arrays.
        pauses: seconds, same length as ``parts`` (negative values count as 0).
        sample_rate: Hz.

    Returns:
        One float32 array (empty if there are no parts).

    Raises:
        ValueError: ``parts`` and ``pauses`` differ in length.
    """
    if len(parts) != len(pauses):
        raise ValueError(f"{len(parts)} parts but {len(pauses)} pauses")
    pieces: list[np.ndarray] = []
    for part, pause in zip(parts, pauses):
        pieces.append(np.asarray(part, dtype=np.float32).ravel())
        silence = pause_samples(pause, sample_rate)
        if silence:
            pieces.append(np.zeros(silence, dtype=np.float32))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces)


def write_wav_atomic(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono 16-bit PCM WAV atomically: temp file in the same folder, then ``os.replace``.

    Readers never see a half-written file. Parent folders are created. On any
    failure the temp file is removed and the exception propagates; an existing
    file at ``path`` is then left as it was. Samples are converted by :func:`pcm16`
    (float clipped to [-1, 1]; int16, e.g. ``decode_flac``'s, written as they are).

    Returns:
        The final path.
    """
    path = Path(path)
    data = pcm16(audio)
    with atomic_write_path(path) as tmp:
        sf.write(str(tmp), data, int(sample_rate), subtype="PCM_16", format="WAV")
    return path


def pcm16(audio: np.ndarray) -> np.ndarray:
    """16-bit PCM samples (int16, shape ``[n]``) of mono audio: what every StoryFlow WAV and FLAC holds.

    Float input (nominal range [-1, 1]): NaN/inf zeroed, then ``floor(x * 32768)``
    clipped to [-32768, 32767]. That is the conversion libsndfile applies when it
    writes float data to a 16-bit WAV (checked sample for sample on 480,000 random
    samples), so WAVs are unchanged; libsndfile's FLAC writer rounds differently, so
    converting once here keeps a WAV and a FLAC of the same audio sample-identical.
    int16 input is returned flattened, as it is.
    """
    data = np.asarray(audio)
    if data.dtype == np.int16:
        return data.ravel()
    scaled = np.floor(np.clip(np.nan_to_num(data.astype(np.float64).ravel()), -1.0, 1.0) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def encode_flac(audio: np.ndarray, sample_rate: int) -> bytes:
    """Mono float audio as FLAC bytes with 16-bit samples: the very samples ``write_wav_atomic``
    would write (same clipping, same libsndfile conversion), losslessly compressed.

    Used by the scale-out workers to send a segment's audio over the broker (about
    half the size of the PCM). Inverse: :func:`decode_flac`.
    """
    buffer = io.BytesIO()
    sf.write(buffer, pcm16(audio), int(sample_rate), subtype="PCM_16", format="FLAC")
    return buffer.getvalue()


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """``(int16 samples [n], sample rate in Hz)`` of FLAC bytes (mono).

    Raises:
        ValueError: not mono, or not decodable (``soundfile.LibsndfileError`` is a RuntimeError;
            it is re-raised as ValueError with its message).
    """
    try:
        samples, sample_rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except RuntimeError as exc:
        raise ValueError(f"not a FLAC stream: {exc}") from exc
    if samples.shape[1] != 1:
        raise ValueError(f"expected mono audio, got {samples.shape[1]} channels")
    return samples[:, 0].copy(), int(sample_rate)
