"""Parallel inference inside one synthesis: N sessions over consecutive chunks (issue 10, item 2).

The ordering and progress tests use stand-in sessions (the real phonemizer, a fake
``create_timed`` whose delay is chosen so later chunks finish first). The
sample-identity test runs the real model on two real one-thread sessions.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from core_engine.engine_calibration import EngineLayout
from core_engine.model_loader import KokoroModelLoader
from core_engine import tts_wrapper
from core_engine.tts_wrapper import SAMPLE_RATE, KokoroEngine, after_chunks_submitted, prefetch

TEXT = (
    "The first sentence is here. A second one follows it. Then comes the third sentence. "
    "The fourth closes the paragraph. And a fifth, to be sure."
)


class _FakeSession:
    """A ``kokoro_onnx.Kokoro`` stand-in: real espeak phonemizer; ``create_timed`` returns a tone whose
    length encodes the phonemes, after a delay that makes the first chunks the slowest."""

    def __init__(self, name: str, log: list, delays: dict[str, float]):
        from kokoro_onnx.tokenizer import Tokenizer

        self.name, self.log, self.delays = name, log, delays
        self.tokenizer = Tokenizer()
        self.has_timings = False
        self.busy = threading.Lock()

    def create_timed(self, phonemes, voice, speed, lang, is_phonemes, trim, sentence_pause, clause_pause):
        assert self.busy.acquire(blocking=False), "a session ran two chunks at once"
        try:
            self.log.append((self.name, phonemes))
            time.sleep(self.delays.get(phonemes, 0.0))
            audio = np.full(240 * len(phonemes), 0.1, dtype=np.float32)
            return audio, SAMPLE_RATE, []
        finally:
            self.busy.release()


def _engines(delays_for=lambda plans: {}):
    log: list = []
    probe = KokoroEngine(_FakeSession("probe", log, {}), target_tokens=30)
    chunks = probe.plan(TEXT)
    phonemes = [probe.chunk_phonemes(c.pieces).phonemes for c in chunks]
    delays = delays_for(phonemes)
    sessions = [_FakeSession(f"s{i}", log, delays) for i in range(2)]
    serial = KokoroEngine(sessions[0], target_tokens=30)
    parallel = KokoroEngine(sessions[0], target_tokens=30, sessions=sessions)
    return chunks, serial, parallel, log


def test_chunks_are_joined_in_order_and_progress_is_counted_in_order():
    # the earlier the chunk, the slower: with two sessions later chunks finish first
    chunks, serial, parallel, log = _engines(lambda ps: {p: 0.05 * (len(ps) - i) for i, p in enumerate(ps)})
    assert len(chunks) >= 4
    serial_progress, parallel_progress = [], []
    one = serial.synthesize(chunks, "v", 1.0, lambda *a: serial_progress.append(a))
    log.clear()
    two = parallel.synthesize(chunks, "v", 1.0, lambda *a: parallel_progress.append(a))
    assert np.array_equal(one.audio, two.audio)
    assert [c.as_dict() for c in one.cues] == [c.as_dict() for c in two.cues]
    assert parallel_progress == serial_progress  # the same (done, total, chars) steps, in order
    assert [a[0] for a in parallel_progress] == list(range(len(chunks) + 1))
    assert {name for name, _ in log} == {"s0", "s1"}  # both sessions were used


def test_a_failing_chunk_raises_out_of_synthesize():
    chunks, _, parallel, _ = _engines()
    second = parallel.chunk_phonemes(chunks[1].pieces).phonemes
    original = parallel.synthesize_chunk

    def fail_on_second(phonemes, voice, speed, kokoro=None):
        if phonemes == second:
            raise RuntimeError("onnxruntime failed")
        return original(phonemes, voice, speed, kokoro=kokoro)

    parallel.synthesize_chunk = fail_on_second
    with pytest.raises(RuntimeError, match="onnxruntime failed"):
        parallel.synthesize(chunks, "v", 1.0)


def test_the_next_text_is_prefetched_behind_the_current_one_and_taken(monkeypatch):
    chunks, _, parallel, log = _engines()
    sessions = parallel.sessions
    monkeypatch.setattr(KokoroModelLoader, "loaded_sessions", classmethod(lambda cls: list(sessions)))
    monkeypatch.setattr(KokoroModelLoader, "get_voices", classmethod(lambda cls: ["v"]))
    monkeypatch.setattr(tts_wrapper, "validate_request", lambda *args: None)
    following = "Another paragraph follows. It has two short sentences in it."
    queued: list[int] = []
    with after_chunks_submitted(lambda: queued.append(prefetch(following, "v", 1.0))):
        parallel.synthesize(chunks, "v", 1.0)
    assert queued and queued[0] >= 1
    submitted: list[str] = []
    original_submit = KokoroEngine.submit_chunk
    monkeypatch.setattr(
        KokoroEngine, "submit_chunk",
        lambda self, phonemes, voice, speed: submitted.append(phonemes) or original_submit(self, phonemes, voice, speed),
    )
    second = KokoroEngine(sessions[0], sessions=sessions)
    plan = second.plan(following)
    result = second.synthesize(plan, "v", 1.0)
    second_phonemes = [second.chunk_phonemes(c.pieces).phonemes for c in plan]
    assert submitted == []  # every chunk of the second text came from the prefetch
    assert sorted(p for _, p in log if p in second_phonemes) == sorted(second_phonemes)  # each ran once
    fresh = KokoroEngine(sessions[0]).synthesize(plan, "v", 1.0)
    assert np.array_equal(result.audio, fresh.audio)
    assert tts_wrapper.discard_prefetched() == 0


def test_an_unused_prefetch_is_discarded(monkeypatch):
    chunks, _, parallel, log = _engines()
    sessions = parallel.sessions
    monkeypatch.setattr(KokoroModelLoader, "loaded_sessions", classmethod(lambda cls: list(sessions)))
    monkeypatch.setattr(KokoroModelLoader, "get_voices", classmethod(lambda cls: ["v"]))
    monkeypatch.setattr(tts_wrapper, "validate_request", lambda *args: None)
    assert prefetch("A text that will never be asked for.", "v", 1.0) == 1
    parallel.synthesize(chunks, "v", 1.0)  # another text: the prefetched chunk is not taken
    assert tts_wrapper.discard_prefetched() == 0  # it was dropped when the other text was queued


@pytest.mark.real_model
def test_two_real_sessions_give_the_same_samples_as_one_after_another(installed_model):
    files = KokoroModelLoader.resolve_model_files()
    sessions = KokoroModelLoader._build_sessions(files, EngineLayout(2, 1))
    assert len(sessions) == 2 and sessions[0].sess is not sessions[1].sess
    serial = KokoroEngine(sessions[0], target_tokens=40)
    parallel = KokoroEngine(sessions[0], target_tokens=40, sessions=sessions)
    chunks = serial.plan(TEXT)
    assert len(chunks) >= 3
    voice = KokoroModelLoader.get_voices()[0]
    one = serial.synthesize(chunks, voice, 1.0)
    two = parallel.synthesize(chunks, voice, 1.0)
    assert one.audio.size > SAMPLE_RATE
    assert np.array_equal(one.audio, two.audio)
    assert [c.as_dict() for c in one.cues] == [c.as_dict() for c in two.cues]
    assert two.exact_cues
