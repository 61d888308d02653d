"""Pure tests of audio_utils: loudness normalization, fades, joins, atomic WAV writes."""
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from core_engine import audio_utils
from core_engine.audio_utils import (
    PEAK_CEILING_DBFS,
    TARGET_LUFS,
    apply_fades,
    get_audio_duration,
    join_with_pauses,
    normalize_loudness,
    write_wav_atomic,
)
from core_engine.tests.helpers import sine

SR = 24000
CEILING = 10 ** (PEAK_CEILING_DBFS / 20)


def lufs(audio, sr=SR):
    return pyloudnorm.Meter(sr).integrated_loudness(np.asarray(audio, dtype=np.float64))


@pytest.mark.parametrize("amplitude", [0.01, 0.05, 0.3])
def test_sine_is_brought_to_target_loudness(amplitude):
    audio = sine(440, 3.0, amplitude)
    before = lufs(audio)
    assert abs(before - TARGET_LUFS) > 1.0  # the input really is off-target
    out = normalize_loudness(audio, SR)
    assert out.dtype == np.float32 and out.shape == audio.shape
    assert lufs(out) == pytest.approx(TARGET_LUFS, abs=0.1)
    assert np.max(np.abs(out)) <= CEILING + 1e-6


def test_custom_target():
    out = normalize_loudness(sine(1000, 2.0, 0.1), SR, target_lufs=-23.0)
    assert lufs(out) == pytest.approx(-23.0, abs=0.1)


def test_peak_ceiling_wins_over_loudness_target():
    # a very quiet tone with one full-scale click: reaching -18 LUFS would clip the click
    audio = sine(440, 3.0, 0.001)
    audio[SR] = 1.0
    out = normalize_loudness(audio, SR)
    assert np.max(np.abs(out)) == pytest.approx(CEILING, rel=1e-4)
    assert lufs(out) < TARGET_LUFS - 1.0


def test_audio_shorter_than_a_loudness_block_is_peak_normalized():
    audio = sine(440, 0.2, 0.1)  # 200 ms < pyloudnorm's 400 ms block
    out = normalize_loudness(audio, SR)
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(out)) == pytest.approx(CEILING, rel=1e-3)


@pytest.mark.parametrize("audio", [np.zeros(SR * 2, np.float32), np.zeros(100, np.float32), np.zeros(0, np.float32)])
def test_silence_stays_silent(audio):
    out = normalize_loudness(audio, SR)
    assert out.shape == audio.shape
    assert np.all(out == 0.0)


def test_fades_zero_the_ends_and_keep_the_middle():
    audio = np.ones(SR, np.float32)
    out = apply_fades(audio, SR, fade_seconds=0.005)
    n = int(0.005 * SR)
    assert out.shape == audio.shape
    assert out[0] < 0.01 and out[-1] < 0.01
    assert np.all(np.diff(out[:n]) > 0)  # monotonic raised-cosine ramp
    assert np.all(out[n:-n] == 1.0)
    assert np.all(audio == 1.0)  # input untouched


def test_fades_on_tiny_audio_do_not_fail():
    assert apply_fades(np.ones(3, np.float32), SR).shape == (3,)
    assert apply_fades(np.zeros(0, np.float32), SR).shape == (0,)


def test_join_with_pauses_inserts_silence_after_each_part():
    a, b = np.ones(100, np.float32), np.full(200, 0.5, np.float32)
    out = join_with_pauses([a, b], [0.5, 0.0], 1000)
    assert out.shape == (100 + 500 + 200,)
    assert np.all(out[:100] == 1.0) and np.all(out[100:600] == 0.0) and np.all(out[600:] == 0.5)
    assert join_with_pauses([], [], 1000).shape == (0,)
    with pytest.raises(ValueError):
        join_with_pauses([a], [], 1000)


def test_write_wav_atomic_creates_dirs_and_writes_pcm16(tmp_path):
    target = tmp_path / "a" / "b" / "out.wav"
    write_wav_atomic(target, sine(440, 1.5, 0.5), SR)
    info = sf.info(str(target))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, "PCM_16", "WAV")
    assert get_audio_duration(target) == pytest.approx(1.5)
    assert [p.name for p in target.parent.iterdir()] == ["out.wav"]  # no temp file left


def test_write_wav_atomic_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "audio" / "out.wav"
    write_wav_atomic(target, sine(440, 1.0, 0.5), SR)
    before = target.read_bytes()

    def broken_write(path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(audio_utils.sf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_wav_atomic(target, sine(440, 2.0, 0.5), SR)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["out.wav"]


def test_get_audio_duration_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        get_audio_duration(tmp_path / "nope.wav")
