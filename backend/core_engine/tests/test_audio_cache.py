import os

from core_engine import audio_cache

K1, K2 = "a" * 64, "b" * 64


def _wav(tmp_path, name, size=1000):
    p = tmp_path / name
    p.write_bytes(b"R" * size)
    return p


def test_store_lookup_corrupt_evict(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    assert audio_cache.lookup(K1) is None
    audio_cache.store(K1, _wav(tmp_path, "x.wav"), 1.5, [{"start": 0}])
    entry = audio_cache.lookup(K1)
    assert entry["duration"] == 1.5 and entry["cues"] == [{"start": 0}]
    out = tmp_path / "out.wav"
    audio_cache.copy_to(entry, out)
    assert out.read_bytes() == b"R" * 1000
    # corrupt sidecar: ignored, deleted, rewritten
    (audio_cache.cache_dir() / f"{K1}.json").write_text("{broken")
    assert audio_cache.lookup(K1) is None
    assert not (audio_cache.cache_dir() / f"{K1}.wav").exists()
    audio_cache.store(K1, _wav(tmp_path, "x.wav"), 2.0, [])
    assert audio_cache.lookup(K1)["duration"] == 2.0
    # eviction: oldest mtime goes first
    os.utime(audio_cache.cache_dir() / f"{K1}.wav", (1, 1))
    settings.STORYFLOW_AUDIO_CACHE_MAX_BYTES = 1500
    audio_cache.store(K2, _wav(tmp_path, "y.wav"), 1.0, [])
    assert audio_cache.lookup(K1) is None
    assert audio_cache.lookup(K2) is not None


def test_store_scans_the_folder_only_when_the_cap_may_be_crossed(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORYFLOW_AUDIO_CACHE_MAX_BYTES = 10_000
    scans = []
    real_evict = audio_cache.evict
    monkeypatch.setattr(audio_cache, "evict", lambda limit=None: scans.append(1) or real_evict(limit))
    keys = [f"{i:064x}" for i in range(12)]
    for key in keys[:8]:  # 8 x ~1,060 bytes: under the cap after the first scan
        audio_cache.store(key, _wav(tmp_path, "x.wav"), 1.0, [])
    assert len(scans) == 1  # the first store learns the folder's size; the others only add to it
    for key in keys[8:]:  # now the tally crosses 10,000 bytes: scan and evict the oldest
        audio_cache.store(key, _wav(tmp_path, "x.wav"), 1.0, [])
    assert len(scans) >= 2
    on_disk = sum(p.stat().st_size for p in audio_cache.cache_dir().iterdir())
    assert on_disk <= 10_000
    assert audio_cache.lookup(keys[-1]) is not None


def test_an_entry_shares_the_segment_file_and_keeps_its_audio_when_the_segment_is_replaced(settings, tmp_path):
    import numpy as np
    import soundfile as sf

    from core_engine.audio_utils import write_wav_atomic

    settings.MEDIA_ROOT = str(tmp_path / "media")
    segment = tmp_path / "media" / "projects" / "p" / "audio" / "s.wav"
    first = np.full(2400, 0.25, dtype=np.float32)
    write_wav_atomic(segment, first, 24000)
    audio_cache.store(K1, segment, 0.1, [])
    entry = audio_cache.lookup(K1)
    assert os.path.samefile(entry["wav"], segment)  # a hard link: no copy, no second fsync
    # Regenerating the segment replaces its file (a new inode); the entry keeps the old audio.
    write_wav_atomic(segment, np.full(2400, -0.5, dtype=np.float32), 24000)
    cached, _ = sf.read(entry["wav"], dtype="float32")
    now, _ = sf.read(segment, dtype="float32")
    assert not os.path.samefile(entry["wav"], segment)
    assert np.allclose(cached, 0.25, atol=1e-4) and np.allclose(now, -0.5, atol=1e-4)
