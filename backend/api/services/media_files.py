"""Where generated audio lives on disk, and removing it when its segment or project goes.

Layout (spec 03.01/03.02): ``<MEDIA_ROOT>/projects/{project_id}/audio/{segment_id}.wav``,
served at ``/media/projects/{project_id}/audio/{segment_id}.wav``.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def media_path_for_url(url: str | None) -> Path | None:
    """Map a ``/media/...`` URL path to its file under MEDIA_ROOT.

    Returns None for an empty value, a URL outside MEDIA_URL, or one that would
    resolve outside MEDIA_ROOT (``..`` tricks).
    """
    if not url or not url.startswith(settings.MEDIA_URL):
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / url[len(settings.MEDIA_URL):]).resolve()
    if root not in path.parents:
        return None
    return path


def media_relative_path(path: Path | str) -> str:
    """A file under MEDIA_ROOT as its path relative to MEDIA_ROOT (POSIX), the inverse of joining onto it.

    Raises:
        ValueError: ``path`` is not under MEDIA_ROOT.
    """
    return Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()


def media_url_for_path(path: Path | str) -> str:
    """The ``/media/...`` URL of a file under MEDIA_ROOT (the inverse of :func:`media_path_for_url`)."""
    return settings.MEDIA_URL + media_relative_path(path)


def project_media_dir(project_id) -> Path:
    """``<MEDIA_ROOT>/projects/{project_id}``: everything generated for one project."""
    return Path(settings.MEDIA_ROOT) / "projects" / str(project_id)


def remove_file(path: Path | str | None) -> bool:
    """Delete a file if it exists; return True if one was removed. Never raises for a missing file."""
    if path is None:
        return False
    try:
        Path(path).unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError:
        logger.warning("Could not remove %s", path, exc_info=True)
        return False


def remove_empty_dirs(start: Path, stop: Path) -> None:
    """Remove ``start`` and its parents while they are empty, never ``stop`` or above it."""
    stop = stop.resolve()
    current = start.resolve()
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except OSError:  # not empty, or already gone
            if current.exists():
                return
        current = current.parent


def delete_segment_audio(project_id, segment_id, audio_url: str | None) -> None:
    """Remove a segment's WAV: the file its ``audio_file`` points to and the canonical path."""
    from core_engine.tts_wrapper import construct_audio_path

    for path in {media_path_for_url(audio_url), Path(construct_audio_path(project_id, segment_id))}:
        if remove_file(path):
            logger.info("Deleted audio %s", path)


def delete_project_media(project_id) -> None:
    """Remove ``<MEDIA_ROOT>/projects/{project_id}/`` with everything in it."""
    directory = project_media_dir(project_id)
    shutil.rmtree(directory, ignore_errors=True)
