"""Atomic file replacement: write to a temp file beside the target, then ``os.replace``.

Readers (the media server, a player, the database's pointer) see either the old
complete file or the new complete one, never a partial write; a failed write
leaves no temp file behind. Used for generated WAVs and the assembled model.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

#: Temp files are ``.<target name>.<random>.tmp`` beside the target (hidden, never ``*.wav``).
TEMP_SUFFIX = ".tmp"

# The process umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path in ``target``'s folder; on success it replaces ``target``.

    The caller writes the whole file to the yielded path. When the block exits
    normally the temp file is flushed to disk (fsync), given the usual file mode
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
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


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
