"""Atomic file replacement: write to a temp file beside the target, then ``os.replace``.

Readers (the media server, a player, the database's pointer) see either the old
complete file or the new complete one, never a partial write; a failed write
leaves no temp file behind. Used for generated WAVs and the assembled model; the audio
cache shares a segment's WAV by hard link (:func:`link_or_copy_atomic`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

#: Temp files are ``.<target name>.<random>.tmp`` beside the target (hidden, never ``*.wav``).
TEMP_SUFFIX = ".tmp"

# The process umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write_path(target: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temp path in ``target``'s folder; on success it replaces ``target``.

    The caller writes the whole file to the yielded path. When the block exits
    normally the temp file is flushed to disk (fsync; ``fsync=False`` skips it, for a
    file whose reader checks it and can do without it, like an audio-cache sidecar:
    after a power cut it may be empty, never partial-and-valid), given the usual file mode
    (0666 minus the umask; mkstemp creates 0600) and renamed over ``target``.
    When the block raises, the temp file is removed, ``target`` is left as it
    was, and the exception propagates. Parent folders are created.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def link_or_copy_atomic(source: str | Path, target: str | Path) -> bool:
    """Make ``target`` a hard link to ``source`` (a copy where linking fails), atomically.

    The link is made under a temp name beside ``target`` and renamed over it, so readers
    see the old ``target`` or the new one. Linking costs no copy and no fsync (``source``
    is already on disk); it is only correct because every file this module writes is
    replaced by a rename, never rewritten in place, so the shared inode never changes
    content. Where hard links are refused (another filesystem: EXDEV; EPERM; EMLINK) the
    file is copied with :func:`atomic_write_path`. Raises OSError if ``source`` cannot be
    read or ``target`` written (nothing is left behind).

    Returns:
        True if linked, False if copied.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    try:
        os.link(source, tmp)
    except OSError:  # a missing source fails in the copy too, leaving nothing
        with atomic_write_path(target) as copy:
            shutil.copyfile(source, copy)
        return False
    try:
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True


def remove_stale_temp_files(folder: str | Path) -> int:
    """Delete temp files :func:`atomic_write_path` left in ``folder`` (a process killed mid-write); return how many.

    Only call it when no write can be in progress there (at start-up).
    """
    removed = 0
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
