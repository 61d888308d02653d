"""Content-addressed cache of synthesized segment audio (issue 10, item 3).

Entries live under ``<MEDIA_ROOT>/cache/audio/`` (read at call time): ``<key>.wav``
(the normalized 24 kHz mono 16-bit WAV exactly as written for the segment) and
``<key>.json`` (``{"duration": seconds, "cues": [...]}``). The key is a 64-hex SHA-256;
``api.services.audio_generation.cache_key_for`` makes it from the segment's audio
identity (spoken text, rules, voice or blend, speed, model variant, engine version;
``api.services.narration.audio_identity``), its written text and the model file's SHA-256.

Writes are atomic (temp file, then ``os.replace``); the sidecar is written last,
so an entry without a readable sidecar is a miss. A corrupt entry is deleted and
treated as a miss. A hit touches the mtime; :func:`evict` removes the oldest-mtime
entries until the folder is under ``STORYFLOW_AUDIO_CACHE_MAX_BYTES`` (default 2 GB).
Safe across restarts (files only) and concurrent tasks (every write is a rename; a
reader that loses a race to eviction sees a miss).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

from django.conf import settings

from core_engine.atomic_files import atomic_write_path, link_or_copy_atomic

DEFAULT_MAX_BYTES = 2 * 1024**3
_KEY = re.compile(r"^[0-9a-f]{64}$")
_evict_lock = threading.Lock()
#: Stores between two full scans of the folder (a scan stats every entry: O(entries)).
RESCAN_EVERY = 256
# (cache folder, bytes after the last scan plus what this process stored since, stores since the scan)
_tally: list = [None, 0, 0]


def cache_dir() -> Path:
    """``<MEDIA_ROOT>/cache/audio``."""
    return Path(settings.MEDIA_ROOT) / "cache" / "audio"


def max_bytes() -> int:
    """The size cap in bytes (setting ``STORYFLOW_AUDIO_CACHE_MAX_BYTES``)."""
    return int(getattr(settings, "STORYFLOW_AUDIO_CACHE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _paths(key: str) -> tuple[Path, Path]:
    if not _KEY.match(key):
        raise ValueError(f"not a sha256 hex key: {key!r}")
    return cache_dir() / f"{key}.wav", cache_dir() / f"{key}.json"


def discard(key: str) -> None:
    """Remove an entry (both files), ignoring missing ones."""
    for path in _paths(key):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def lookup(key: str) -> dict | None:
    """The entry for ``key``: ``{"wav": Path, "duration": float s, "cues": list}``, or None (a miss).

    A corrupt entry (unreadable sidecar, missing or empty WAV) is deleted and is a miss.
    """
    wav, meta = _paths(key)
    if not meta.exists() and not wav.exists():
        return None
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        duration = float(data["duration"])
        cues = list(data.get("cues") or [])
        if wav.stat().st_size <= 44:
            raise ValueError("empty wav")
    except (OSError, ValueError, KeyError, TypeError):
        discard(key)
        return None
    try:
        os.utime(wav)
        os.utime(meta)
    except OSError:
        pass
    return {"wav": wav, "duration": duration, "cues": cues}


def copy_to(entry: dict, output_path: str | Path) -> None:
    """Write the cached WAV to ``output_path`` atomically, as a copy.

    Not a hard link (``store`` links the other way): a linked segment file would carry the
    entry's older mtime, and a player revalidating with ``If-Modified-Since`` against the
    segment's previous file could get a 304 and keep the old audio (``django.views.static.serve``).
    """
    with atomic_write_path(output_path) as tmp:
        shutil.copyfile(entry["wav"], tmp)


def store(key: str, wav_path: str | Path, duration: float, cues: list) -> None:
    """Store ``wav_path`` with its duration (s) and cues under ``key``, then evict if needed.

    The entry's WAV is a hard link to ``wav_path`` where the filesystem allows
    (``atomic_files.link_or_copy_atomic``; a copy otherwise): the segment's file is never
    rewritten in place, only replaced, so the entry keeps the audio it was stored with.
    The size cap counts an entry's whole WAV, even while a segment shares its blocks.
    Linking instead of copying (and fsyncing) the WAV, and not fsyncing the sidecar, took
    the store from 12 % to 5 % of the batch thread's samples in the 2,000-segment simulation
    of ``bench/scale_benchmark.py`` (py-spy, the two versions profiled in one session on an
    AMD EPYC, 2 cores, avx512_vnni).

    The folder is scanned (``evict``) only when this process's running tally says the cap
    may be exceeded, or every ``RESCAN_EVERY`` stores (other processes may have written):
    a full scan per store made a 2,000-segment batch spend 29 % of its web-process time
    in ``stat`` (``bench/scale_benchmark.py`` simulation, profiled with py-spy).
    """
    wav, meta = _paths(key)
    link_or_copy_atomic(wav_path, wav)
    # No fsync for the sidecar: one unreadable after a crash makes the entry a miss (``lookup``).
    with atomic_write_path(meta, fsync=False) as tmp:
        tmp.write_text(json.dumps({"duration": float(duration), "cues": cues}), encoding="utf-8")
    added = wav.stat().st_size + meta.stat().st_size
    with _evict_lock:
        folder, known, since = _tally
        fresh = folder == cache_dir() and since < RESCAN_EVERY
        if fresh and known + added <= max_bytes():
            _tally[1], _tally[2] = known + added, since + 1
            return
    evict()


def evict(limit: int | None = None) -> int:
    """Remove least recently used entries until the cache is at most ``limit`` bytes; return how many."""
    limit = max_bytes() if limit is None else limit
    with _evict_lock:
        entries = []
        for wav in cache_dir().glob("*.wav"):
            meta = wav.with_suffix(".json")
            try:
                size = wav.stat().st_size + (meta.stat().st_size if meta.exists() else 0)
                entries.append((wav.stat().st_mtime, wav.stem, size))
            except OSError:
                continue
        total = sum(size for _, _, size in entries)
        removed = 0
        for _, key, size in sorted(entries):
            if total <= limit:
                break
            discard(key)
            total -= size
            removed += 1
        _tally[:] = [cache_dir(), total, 0]
        return removed
