"""Audit of ``MEDIA_ROOT`` against the database (``manage.py check_media [--fix] [--json]``).

Three kinds of problem are found, and with ``fix`` repaired:

- **orphan files**: a file under ``MEDIA_ROOT/projects/`` that no ``Segment.audio_file`` and
  no ``Export`` row (``file_path``, ``srt_path``, ``vtt_path``) points to, and the folder
  ``projects/{id}/`` of a project that no longer exists (reported once, as ``projects/{id}/``).
  Fix: delete them (and the folders they leave empty).
- **missing files**: a segment whose ``audio_file`` points to no file (or outside
  ``MEDIA_ROOT``), an export row whose file is gone. Fix: the segment's audio fields are
  cleared as if it had never been narrated (``audio_file``, ``audio_duration``,
  ``audio_cues``, ``audio_identity``, ``audio_source``; ``version`` untouched, like every
  write of the audio fields), so generate-all-audio narrates it again; an export whose main
  file is gone is deleted (a row exists only for a complete export, ``Export``'s docstring;
  its remaining files go with it), one whose SRT or VTT alone is gone loses that caption.
- **stale temp files**: ``.<name>.<random>.tmp`` files of atomic writes
  (``core_engine.atomic_files``) anywhere under ``MEDIA_ROOT`` (the audio cache and voice
  samples included) untouched for more than ``stale_after`` seconds
  (``atomic_files.STALE_TEMP_AGE_SECONDS``, 15 minutes). Fix: delete them.

Never reported: the audio cache's and voice samples' entries (``MEDIA_ROOT/cache/``, which
no row points to by design), files outside ``projects/`` and ``cache/`` (``media/README.md``),
and everything of a project with an active task (PENDING or PROCESSING in the task journal,
unless this process's task runner knows it finished): its files are being written. Those
projects are listed in ``MediaReport.skipped_projects``. A server killed mid-task leaves its
tasks PROCESSING until it restarts (and resumes them, removing their temp files), so their
projects are skipped until then.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from api.models import Export, Project, Segment, TaskRecord
from api.services.audiobook_export import delete_export_files
from api.services.media_files import media_path_for_url, media_relative_path, remove_empty_dirs
from api.tasks import ACTIVE_STATUSES, TERMINAL_STATUSES, TaskManager
from core_engine.atomic_files import STALE_TEMP_AGE_SECONDS, is_temp_name

logger = logging.getLogger(__name__)


@dataclass
class MediaReport:
    """What :func:`audit_media` found (and with ``fix`` repaired).

    Attributes:
        orphan_files: paths relative to ``MEDIA_ROOT`` (POSIX) of files nothing points to;
            a deleted project's folder as ``projects/{id}/``.
        missing_files: the rows pointing to a missing file, as
            ``"Segment {id} (project {id}, #{sequence_index}): {audio_file}"`` or
            ``"Export {id} (project {id}, {format}): {path}"``.
        stale_temp_files: paths relative to ``MEDIA_ROOT`` of leftover temp files.
        skipped_projects: ids of projects with an active task, whose files were not checked
            (not a problem).
        fix: whether repairs were attempted.
        fixed: how many of the problems were repaired (0 without ``fix``).
        fix_errors: what could not be repaired, and why.
    """

    orphan_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    stale_temp_files: list[str] = field(default_factory=list)
    skipped_projects: list[str] = field(default_factory=list)
    fix: bool = False
    fixed: int = 0
    fix_errors: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Number of problems found (orphans + missing files + stale temp files)."""
        return len(self.orphan_files) + len(self.missing_files) + len(self.stale_temp_files)

    @property
    def remaining(self) -> int:
        """Problems still there: all of them without ``fix``, those not repaired with it."""
        return self.problems - self.fixed

    @property
    def clean(self) -> bool:
        """True when nothing is left to repair (``manage.py check_media`` exits 0)."""
        return self.remaining == 0

    def as_dict(self) -> dict:
        """The report as ``check_media --json`` prints it. Its only top-level lists are the three
        problem lists (a checker may take any non-empty list for a problem); the skipped
        projects are under ``"skipped"``."""
        return {
            "media_root": str(settings.MEDIA_ROOT),
            "orphan_files": list(self.orphan_files),
            "missing_files": list(self.missing_files),
            "stale_temp_files": list(self.stale_temp_files),
            "problems": self.problems,
            "fix": self.fix,
            "fixed": self.fixed,
            "remaining": self.remaining,
            "skipped": {"projects_with_active_tasks": list(self.skipped_projects)},
            "fix_errors": {"count": len(self.fix_errors), "messages": list(self.fix_errors)},
        }


def audit_media(fix: bool = False, *, stale_after: float = STALE_TEMP_AGE_SECONDS) -> MediaReport:
    """Compare ``MEDIA_ROOT`` with the database; with ``fix``, repair what was found.

    See the module docstring for what counts as a problem and how each is repaired.
    ``stale_after`` is the age in seconds (by mtime) past which a temp file is a leftover
    (default :data:`core_engine.atomic_files.STALE_TEMP_AGE_SECONDS`). Reads every segment
    and export row once and walks ``projects/`` and ``cache/``; never raises for a file that
    vanishes meanwhile. A repair that fails (a permission error) is listed in ``fix_errors``
    and counts as not fixed.

    Returns:
        A :class:`MediaReport`; ``report.problems`` counts what was found,
        ``report.fixed`` what was repaired.
    """
    root = Path(settings.MEDIA_ROOT)
    report = MediaReport(fix=fix)
    active = _active_project_ids()
    report.skipped_projects = sorted(active)
    projects_dir = root / "projects"
    project_ids = {str(pk) for pk in Project.objects.values_list("id", flat=True)}

    referenced: set[Path] = set()
    repairs = []  # (callable, description) run after the scan
    for segment in Segment.objects.exclude(audio_file__isnull=True).exclude(audio_file="").only(
        "id", "project_id", "sequence_index", "audio_file"
    ).iterator():
        path = media_path_for_url(segment.audio_file)
        if path is not None:
            referenced.add(path)
        if str(segment.project_id) in active or (path is not None and path.is_file()):
            continue
        report.missing_files.append(
            f"Segment {segment.id} (project {segment.project_id}, #{segment.sequence_index}): {segment.audio_file}"
        )
        repairs.append(_clear_segment_audio(segment.id, segment.audio_file))
    for export in Export.objects.only("id", "project_id", "format", "file_path", "srt_path", "vtt_path").iterator():
        paths = {name: (root / value).resolve() for name in ("file_path", "srt_path", "vtt_path")
                 if (value := getattr(export, name))}
        referenced.update(paths.values())
        if str(export.project_id) in active:
            continue
        for name, path in paths.items():
            if not path.is_file():
                report.missing_files.append(
                    f"Export {export.id} (project {export.project_id}, {export.format}): {getattr(export, name)}"
                )
                repairs.append(_repair_export(export.id, name))
                if name == "file_path":
                    break  # the row goes: its captions need no repair of their own

    now = time.time()
    for path in _walk(root, skip=[projects_dir / pid for pid in active]):
        if is_temp_name(path.name):
            try:
                if now - path.stat().st_mtime <= stale_after:
                    continue  # may be a write in progress
            except FileNotFoundError:
                continue
            report.stale_temp_files.append(media_relative_path(path))
            repairs.append(_remove(path, root))

    if projects_dir.is_dir():
        for entry in sorted(projects_dir.iterdir()):
            if entry.is_dir() and entry.name not in project_ids:
                if entry.name in active:  # a task of a project being deleted right now
                    continue
                report.orphan_files.append(f"projects/{entry.name}/")
                repairs.append(_remove_tree(entry))
                continue
            if entry.name in active:
                continue
            for path in ([entry] if entry.is_file() else _walk(entry)):
                if is_temp_name(path.name) or path.resolve() in referenced:
                    continue
                report.orphan_files.append(media_relative_path(path))
                repairs.append(_remove(path, root))

    if fix:
        for repair in repairs:
            try:
                repair()
                report.fixed += 1
            except Exception as exc:  # report it; the other repairs go on
                logger.warning("check_media: could not repair: %s", exc, exc_info=True)
                report.fix_errors.append(f"{type(exc).__name__}: {exc}")
    return report


def _walk(folder: Path, skip: list[Path] = ()):
    """Every file under ``folder`` (sorted, depth first), leaving out the folders in ``skip``."""
    if not folder.is_dir():
        return
    skipped = {p.resolve() for p in skip}
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if path.resolve() not in skipped:
                yield from _walk(path, skip)
        elif path.is_file():
            yield path


def _active_project_ids() -> set[str]:
    """Ids of the projects with a PENDING or PROCESSING task in the journal, less those this
    process's runner knows as finished (the journal is written behind by a moment)."""
    manager = TaskManager._instance  # only a runner already there: never start one to ask
    active = set()
    rows = TaskRecord.objects.filter(status__in=ACTIVE_STATUSES, project_id__isnull=False)
    for task_id, project_id in rows.values_list("task_id", "project_id"):
        live = manager.get_task_status(task_id) if manager is not None else None
        if live is not None and live["status"] in TERMINAL_STATUSES:
            continue
        active.add(str(project_id))
    return active


def _clear_segment_audio(segment_id, audio_url: str):
    """A repair clearing the segment's audio fields if it still points to ``audio_url``."""

    def repair() -> None:
        Segment.objects.filter(id=segment_id, audio_file=audio_url).update(
            audio_file=None, audio_duration=None, audio_cues=None, audio_identity="", audio_source=None,
        )
        logger.info("check_media: segment %s no longer points to the missing %s", segment_id, audio_url)

    return repair


def _repair_export(export_id, field_name: str):
    """A repair for an export missing ``field_name``'s file: the row is deleted when that is the
    main file (the delete signal removes its other files), else that caption is cleared."""

    def repair() -> None:
        if field_name == "file_path":
            export = Export.objects.filter(id=export_id).first()
            if export is None:
                return
            export.delete()
            # The delete signal removes the files once the delete commits; here they go now, also
            # inside an outer transaction, so the captions left never become orphans.
            delete_export_files(export.file_paths())
            logger.info("check_media: deleted export %s, whose file is missing", export_id)
        else:
            Export.objects.filter(id=export_id).update(**{field_name: ""})
            logger.info("check_media: export %s loses its missing %s", export_id, field_name)

    return repair


def _remove(path: Path, root: Path):
    """A repair deleting one file (and the folders it leaves empty, up to ``projects/`` or ``cache/``)."""

    def repair() -> None:
        path.unlink(missing_ok=True)
        stop = next((root / top for top in ("projects", "cache") if (root / top) in path.parents), root)
        remove_empty_dirs(path.parent, stop)
        logger.info("check_media: removed %s", path)

    return repair


def _remove_tree(folder: Path):
    """A repair deleting a deleted project's folder with everything in it."""

    def repair() -> None:
        shutil.rmtree(folder)
        logger.info("check_media: removed the folder of a deleted project, %s", folder)

    return repair

