"""Atomic file replacement: write to a temp file beside the target, then ``os.replace``.

Readers (the media server, a player, the database's pointer) see either the old
complete file or the new complete one, never a partial write; a failed write
leaves no temp file behind. Used for generated WAVs and the assembled model; the audio
cache shares a segment's WAV by hard link (:func:`link_or_copy_atomic`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

#: Temp files are ``.<target name>.<random>.tmp`` beside the target (hidden, never ``*.wav``).
TEMP_SUFFIX = ".tmp"

#: A temp file untouched for this long (seconds, by mtime) is a leftover of a killed
#: process, not a write in progress: a segment WAV is written in well under a second and
#: an export's encoder touches its temp file every few seconds. (An export's caption temps
#: are created at its start and written at its end, so a caller that can see running tasks,
#: ``api.services.media_audit``, also leaves the folders of those tasks alone.)
STALE_TEMP_AGE_SECONDS = 15 * 60

#: errno values meaning the storage refuses writes (not that one file is bad): disk full,
#: quota exceeded, permission denied, read-only file system.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})

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


def is_temp_name(name: str) -> bool:
    """True for a file name this module's writers use for temp files (``.<name>.<random>.tmp``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


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


def storage_error_message(exc: BaseException, path: str | Path | None = None, retry: str = "try again") -> str | None:
    """What to tell a user when a write failed because of the storage, or None for any other error.

    ``exc`` is an OSError whose errno is in :data:`STORAGE_ERRNOS` (PyAV's errors are
    OSErrors too); ``path`` is the file or folder being written (default: the error's
    ``filename``), named in the message by its folder; ``retry`` ends the message
    ("generate again", "export again"). This is the one place those errnos are worded:
    the engine, the services and the API's error handler all call it. Examples::

        The disk is full: free space on /srv/media/projects/1f2e/audio and generate again.
        StoryFlow may not write to /srv/media (permission denied): make it writable by
        the user running the server and generate again.
    """
    if not isinstance(exc, OSError) or exc.errno not in STORAGE_ERRNOS:
        return None
    where = path if path is not None else exc.filename
    folder = _folder_of(where) if where else "the media folder"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "The disk is full" if exc.errno == errno.ENOSPC else "The disk quota is exhausted"
        return f"{what}: free space on {folder} and {retry}."
    if exc.errno == errno.EROFS:
        return (f"{folder} is on a read-only file system: make it writable (or point STORYFLOW_MEDIA_ROOT "
                f"at a writable folder) and {retry}.")
    return (f"StoryFlow may not write to {folder} (permission denied): make it writable by the user "
            f"running the server and {retry}.")


def _folder_of(path: str | Path) -> str:
    """The folder a message names for ``path``: ``path`` itself if it is a folder (or has no
    suffix, like a folder that could not be created), else its parent."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return str(path)
    return str(path.parent)
