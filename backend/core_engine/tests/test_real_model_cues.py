"""Sentence cues with the real Kokoro-82M int8 model (a few seconds per synthesis: short texts only)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core_engine.model_loader import DURATION_OUTPUT, KokoroModelLoader
from core_engine.text_chunking import CLAUSE_PAUSE
from core_engine.tts_wrapper import SAMPLE_RATE, KokoroEngine, generate_audio, synthesize

pytestmark = pytest.mark.real_model

SR = SAMPLE_RATE
SENTENCES = ["The night was cold.", "A lamp burned in the window.", "Nobody came."]
# speech normalized to -18 LUFS has RMS ~0.1; a pause 30 dB below that is silence to the ear
SILENCE_BELOW_DB = -30.0


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(audio, dtype=np.float64) ** 2))) if audio.size else 0.0


def at(seconds: float) -> int:
    return int(round(seconds * SR))


def zero_runs(audio: np.ndarray, min_seconds: float) -> list[tuple[int, int]]:
    """Runs of exact digital silence (the pauses the engine inserts between chunks), in samples."""
    zero = np.concatenate([[False], audio == 0.0, [False]])
    edges = np.flatnonzero(zero[1:] != zero[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2]) if b - a >= min_seconds * SR]


def assert_well_formed(cues: list, duration: float) -> None:
    """Ordered, non-overlapping, non-empty, inside [0, duration]."""
    assert cues
    assert cues[0]["start"] >= 0.0
    for cue in cues:
        assert cue["start"] < cue["end"] <= duration
    for before, after in zip(cues, cues[1:]):
        assert before["end"] <= after["start"]


@pytest.fixture(scope="module")
def three_sentences(installed_model, tmp_path_factory):
    """generate_audio on three short sentences (one chunk): the result dict and the written audio."""
    out = tmp_path_factory.mktemp("cues") / "three.wav"
    result = generate_audio(" ".join(SENTENCES), "jf_alpha", 1.0, out)
    assert result["success"], result["error"]
    audio, sr = sf.read(str(out), dtype="float32")
    assert sr == SR
    return result, audio


def test_three_sentences_give_three_cues_covering_the_audio(three_sentences):
    result, audio = three_sentences
    cues = result["cues"]
    assert [c["text"] for c in cues] == SENTENCES
    assert_well_formed(cues, result["duration"])
    assert all(round(c["start"], 3) == c["start"] and round(c["end"], 3) == c["end"] for c in cues)
    assert cues[0]["start"] == pytest.approx(0.0, abs=0.1)
    assert cues[-1]["end"] == pytest.approx(len(audio) / SR, abs=0.1)
    # each sentence gets a share of the audio that fits its length (none squeezed to nothing)
    for cue, sentence in zip(cues, SENTENCES):
        assert 0.03 * len(sentence) < cue["end"] - cue["start"] < 0.12 * len(sentence)


def test_the_pause_between_sentences_lies_between_their_cues(three_sentences):
    result, audio = three_sentences
    cues = result["cues"]
    speech = rms(audio)
    for before, after in zip(cues, cues[1:]):
        gap = audio[at(before["end"]) : at(after["start"])]
        assert gap.size >= 0.05 * SR, (before, after)
        assert 20 * np.log10(rms(gap) / speech) < SILENCE_BELOW_DB, (before, after)
        # and the cues end and start on sound, not on a stretch of the pause
        tail = audio[at(before["end"]) - at(0.1) : at(before["end"])]
        head = audio[at(after["start"]) : at(after["start"]) + at(0.1)]
        assert rms(tail) > 10 * rms(gap) and rms(head) > 10 * rms(gap), (before, after)


def test_cues_stay_exact_across_chunk_joins(installed_model):
    text = "The night was cold, and nobody came. Then dawn broke."
    engine = KokoroEngine(KokoroModelLoader.get_session(), target_tokens=24)
    chunks = engine.plan(text)
    # the first sentence is split at its comma over two chunks; the second sentence starts a chunk
    assert len(chunks) >= 3
    assert [p.sentence_index for p in chunks[0].pieces] == [0]
    assert [p.sentence_index for p in chunks[1].pieces] == [0]
    assert chunks[2].pieces[0].sentence_index == 1

    synthesis = synthesize(text, "jf_alpha", 1.0, target_tokens=24)
    assert synthesis.exact_cues is True
    cues = [{"start": c.start, "end": c.end, "text": c.text} for c in synthesis.cues]
    assert [c["text"] for c in cues] == ["The night was cold, and nobody came.", "Then dawn broke."]
    assert_well_formed(cues, synthesis.duration)
    # the pauses inserted at the joins are exact zeros: one inside the first cue (the comma),
    # and the sentence pause exactly between the two cues, to the sample
    joins = zero_runs(synthesis.audio, CLAUSE_PAUSE - 0.001)
    assert len(joins) == len(chunks) - 1
    first, second = synthesis.cues
    inside = [j for j in joins if at(first.start) < j[0] and j[1] < at(first.end)]
    between = [j for j in joins if at(first.end) <= j[0] and j[1] <= at(second.start)]
    assert len(inside) == 1 and len(between) == 1
    assert at(first.end) == between[0][0] and at(second.start) == between[0][1]
    assert second.end == synthesis.duration


def test_timed_session_gives_bit_identical_audio(installed_model):
    import kokoro_onnx
    import onnxruntime

    timed = KokoroModelLoader.get_session()
    files = KokoroModelLoader.loaded_files()
    assert timed.has_timings and KokoroModelLoader.has_timings() is True
    options = onnxruntime.SessionOptions()
    options.enable_mem_pattern = False
    plain = kokoro_onnx.Kokoro.from_session(
        onnxruntime.InferenceSession(str(files.model_path), options, providers=["CPUExecutionProvider"]),
        str(files.voices_path),
    )
    assert not plain.has_timings
    assert [o.name for o in timed.sess.get_outputs()] == ["audio", DURATION_OUTPUT]

    text = "Hello there. How are you?"
    chunks = KokoroEngine(timed).plan(text)
    with_timings = KokoroEngine(timed).synthesize(chunks, "jf_alpha", 1.0)
    without = KokoroEngine(plain).synthesize(chunks, "jf_alpha", 1.0)
    assert with_timings.audio.size > SR and np.array_equal(with_timings.audio, without.audio)
    assert with_timings.exact_cues and not without.exact_cues
    assert [c.text for c in with_timings.cues] == [c.text for c in without.cues] == ["Hello there.", "How are you?"]

    # engine-facts: one duration frame is exactly 600 samples, at any speed
    tokens = timed.tokenizer.tokenize(timed.tokenizer.phonemize(text, "en-us"))
    style = timed.get_voice_style("jf_alpha")[len(tokens) - 1]
    token_input = timed.sess.get_inputs()[0].name  # "tokens" in this export, "input_ids" in newer ones
    for speed in (0.8, 1.0, 1.5):
        audio, duration = timed.sess.run(
            None,
            {
                token_input: np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style.astype(np.float32),
                "speed": np.array([speed], dtype=np.float32),
            },
        )
        assert duration.shape == (1, len(tokens) + 2)
        assert np.asarray(audio).size == 600 * int(np.asarray(duration).sum())
