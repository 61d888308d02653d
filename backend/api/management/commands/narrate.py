"""``python manage.py narrate PATH [--title T] [--voice V] [--speed S]``: narrate a text file end to end.

It imports the file as a project (one segment per paragraph, as
``POST /api/projects/import/`` does), queues one batch task on the same
TaskManager the API uses, shows a tqdm progress bar driven by the task's
status fields (``overall_progress`` in characters, ``stage``, ``current_step``
and the learned ``eta_seconds``) and ends with the total audio duration, the wall time,
the real-time factor (RTF = wall seconds / audio seconds; below 1 is faster
than real time) and the output folder. Ctrl-C cancels cleanly: the segment
being synthesized finishes and keeps its audio, nothing else starts; a second
Ctrl-C exits at once.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from api.models import Segment
from api.services.audio_generation import start_project_audio_generation
from api.services.errors import ServiceError
from api.services.media_files import project_media_dir
from api.services.story_import import import_story, parse_story_file
from api.tasks import TERMINAL_STATUSES, get_task_manager
from core_engine.model_loader import KokoroModelLoader

POLL_SECONDS = 0.2


def format_eta(seconds: float | None) -> str:
    """``"1:05"`` for 65 s, ``"1:02:03"`` past an hour, ``"--:--"`` when unknown."""
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def read_story(path: Path) -> tuple[str | None, str]:
    """Read a UTF-8 story file; return ``(title or None, text)`` as :func:`parse_story_file` does."""
    return parse_story_file(path.read_text(encoding="utf-8"))


class Command(BaseCommand):
    help = "Import a UTF-8 text file as a project and narrate all of it with the TTS model."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="UTF-8 text file; paragraphs separated by blank lines")
        parser.add_argument("--title", help="project title (default: the file's '# ' heading, else its name)")
        parser.add_argument("--voice", help="voice id (default: GlobalSettings; see GET /api/voices/)")
        parser.add_argument("--speed", type=float, help="speed factor 0.5–2.0 (default: GlobalSettings)")

    def handle(self, *args, path: Path, title: str | None, voice: str | None, speed: float | None, **options):
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if not KokoroModelLoader.is_model_available():
            raise CommandError("No TTS model in models/. Run `python manage.py install_model` first.")
        call_command("migrate", verbosity=0, interactive=False)

        heading, text = read_story(path)
        try:
            project = import_story(title=title or heading or path.stem, text=text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

        try:
            status_code, body = start_project_audio_generation(project, voice_id=voice, speed=speed)
        except ServiceError as rejected:
            raise CommandError(rejected.message) from rejected
        if status_code != 202:
            raise CommandError(body["message"])

        task_id = body["task_id"]
        total_chars = sum(len(text) for text in Segment.objects.filter(project=project).values_list("text_content", flat=True))
        self.stdout.write(
            f"Narrating '{project.title}': {body['segments_to_process']} segments, "
            f"{total_chars:,} characters (project {project.id}, task {task_id})"
        )
        started = time.monotonic()
        final = self._follow(task_id, total_chars)
        wall = time.monotonic() - started
        self._report(project, final, wall)

    def _follow(self, task_id: str, total_chars: int) -> dict:
        """Poll the task, drive the progress bar, and turn Ctrl-C into a clean cancel.

        The bar counts characters (``overall_progress`` × total characters, so
        it moves within a long segment); its description is the task's stage
        and its postfix the current step and the task's own ETA.
        """
        manager = get_task_manager()
        cancelling = False
        bar = tqdm(
            total=total_chars,
            unit="char",
            unit_scale=True,
            dynamic_ncols=True,
            desc="queued",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )
        # StoryFlow's log lines (one per finished segment) print above the bar instead of through it.
        with bar, logging_redirect_tqdm(loggers=[logging.getLogger("api"), logging.getLogger("core_engine")]):
            while True:
                try:
                    state = manager.get_task_status(task_id)
                    chars_done = round(state["overall_progress"] / 100.0 * total_chars)
                    if chars_done != bar.n:
                        bar.update(chars_done - bar.n)
                    bar.set_description_str(state["stage"], refresh=False)
                    bar.set_postfix_str(f"{state['current_step']}, ETA {format_eta(state['eta_seconds'])}", refresh=False)
                    bar.refresh()
                    if state["status"] in TERMINAL_STATUSES:
                        return state
                    time.sleep(POLL_SECONDS)
                except KeyboardInterrupt:
                    if cancelling:
                        bar.write("Quit: the segment in progress was abandoned (its temp file may remain).")
                        os._exit(130)
                    cancelling = True
                    manager.cancel_task(task_id)
                    bar.write("Cancelling: the current segment finishes first (Ctrl-C again to quit now)...")

    def _report(self, project, final: dict, wall: float) -> None:
        audio_seconds = sum(entry["duration"] for entry in final["completed_segments"])
        rtf = wall / audio_seconds if audio_seconds else float("nan")
        folder = project_media_dir(project.id) / "audio"
        self.stdout.write("")
        self.stdout.write(f"Status:        {final['status']}")
        self.stdout.write(f"Segments:      {len(final['completed_segments'])} narrated, {len(final['errors'])} failed")
        for error in final["errors"]:
            self.stderr.write(f"  segment {error['segment_id']}: {error['error']}")
        self.stdout.write(f"Audio:         {audio_seconds:.1f} s ({audio_seconds / 60:.1f} min)")
        self.stdout.write(f"Wall time:     {wall:.1f} s")
        self.stdout.write(f"Real-time factor (wall/audio): {rtf:.3f}")
        self.stdout.write(f"Task:          {final['task_id']} (GET /api/tasks/{final['task_id']}/logs/ for its log)")
        self.stdout.write(f"Output folder: {folder}")
        if final["status"] == "FAILED":
            raise CommandError("The narration task failed; see the errors above.")
