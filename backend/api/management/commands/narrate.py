"""``python manage.py narrate PATH [--title T] [--voice V] [--speed S] [--export FORMAT] [--chapters A-B]``.

Narrate a manuscript end to end. It imports the file (``.txt``, ``.md`` or
``.epub``) as a project, as ``POST /api/projects/import/`` does (one segment per
paragraph, headings start chapters); ``--chapters 1-3`` keeps only those
chapters. Then it queues one task on the same TaskManager the API uses: a batch
that narrates every segment, or, with ``--export m4b|mp3|wav|acx``, an export
task that narrates them and writes the audiobook with its captions. A tqdm
progress bar follows the task's status fields (``overall_progress``,
``stage``, ``current_step`` and the learned ``eta_seconds``); the end report
gives the audio duration, the wall time, the real-time factor (RTF = wall
seconds / audio seconds; below 1 is faster than real time) and the output: the
folder of WAVs, or the exported file with its duration, chapter count and size.
Ctrl-C cancels cleanly: the segment being synthesized finishes and keeps its
audio, nothing else starts (an export in progress leaves no file); a second
Ctrl-C exits at once.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from api.models import Export, GlobalSettings, Segment
from api.services.audio_generation import start_project_audio_generation
from api.services.audiobook_export import EXPORT_FORMATS, format_clock, start_project_export
from api.services.errors import ServiceError
from api.services.narration import VoiceSettings, check_voice_settings
from api.services.manuscript_import import ManuscriptError, load_manuscript_file, select_chapters
from api.services.media_files import project_media_dir
from api.services.story_import import create_project, parse_story_file
from api.tasks import TERMINAL_STATUSES, get_task_manager
from core_engine.model_loader import KokoroModelLoader

POLL_SECONDS = 0.2


def format_eta(seconds: float | None) -> str:
    """``"1:05"`` for 65 s, ``"1:02:03"`` past an hour, ``"--:--"`` when unknown."""
    return "--:--" if seconds is None else format_clock(seconds)


def read_story(path: Path) -> tuple[str | None, str]:
    """Read a UTF-8 story file; return ``(title or None, text)`` as :func:`parse_story_file` does."""
    return parse_story_file(path.read_text(encoding="utf-8"))


def parse_chapter_range(value: str) -> tuple[int, int]:
    """``"3"`` -> (3, 3), ``"1-3"`` -> (1, 3); CommandError for anything else."""
    parts = value.replace("–", "-").split("-")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers *= 2
    if len(numbers) != 2:
        raise CommandError(f"--chapters takes a chapter number or a range such as 1-3, not {value!r}.")
    return numbers[0], numbers[1]


class Command(BaseCommand):
    help = "Import a manuscript (.txt, .md, .epub) as a project, narrate it with the TTS model, optionally export the audiobook."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="manuscript: .txt or .md (UTF-8) or .epub")
        parser.add_argument("--title", help="project title (default: the book's title or '# ' heading, else the file name)")
        parser.add_argument("--voice", help="voice id or blend such as jf_alpha:0.6+jm_kumo:0.4, set as the project's voice (default: GlobalSettings; see GET /api/voices/)")
        parser.add_argument("--speed", type=float, help="speed factor 0.5–2.0 (default: GlobalSettings)")
        parser.add_argument("--export", choices=EXPORT_FORMATS, help="write the audiobook in this format after narrating")
        parser.add_argument("--chapters", help="only these chapters, e.g. 1-3 (counting titled chapters from 1)")

    def handle(self, *args, path: Path, title: str | None, voice: str | None, speed: float | None, **options):
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        if not KokoroModelLoader.is_model_available():
            raise CommandError("No TTS model in models/. Run `python manage.py install_model` first.")
        call_command("migrate", verbosity=0, interactive=False)
        if voice is not None or speed is not None:
            settings_obj = GlobalSettings.load()
            try:
                chosen = check_voice_settings(
                    VoiceSettings(voice or settings_obj.default_voice_id, settings_obj.tts_speed if speed is None else speed)
                )
            except ServiceError as rejected:
                raise CommandError(rejected.message) from rejected

        try:
            manuscript = load_manuscript_file(path)
            if options.get("chapters"):
                manuscript = select_chapters(manuscript, *parse_chapter_range(options["chapters"]))
            project = create_project(manuscript, title_override=title or (None if manuscript.title else path.stem))
        except (ManuscriptError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if voice is not None or speed is not None:  # the project's own voice: it stays with the project
            project.voice = chosen.voice_id if voice is not None else None
            project.speed = chosen.speed if speed is not None else None
            project.save(update_fields=["voice", "speed"])

        export_format = options.get("export")
        try:
            if export_format:
                body = start_project_export(project, format=export_format, generate_missing=True)
            else:
                status_code, body = start_project_audio_generation(project)
                if status_code != 202:
                    raise CommandError(body["message"])
        except ServiceError as rejected:
            raise CommandError(rejected.message) from rejected

        task_id = body["task_id"]
        texts = list(Segment.objects.filter(project=project).values_list("text_content", "chapter_title"))
        total_chars = sum(len(text) for text, _ in texts)
        chapters = sum(1 for _, chapter in texts if chapter)
        action = f"Narrating and exporting {export_format.upper()}" if export_format else "Narrating"
        self.stdout.write(
            f"{action} '{project.title}': {len(texts)} segments, {chapters} chapters, "
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
        export = None
        if final.get("result") and final["result"].get("export_id"):
            export = Export.objects.filter(pk=final["result"]["export_id"]).first()
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
        if export is not None:
            root = Path(settings.MEDIA_ROOT)
            self.stdout.write(f"Audiobook:     {root / export.file_path}")
            self.stdout.write(f"  Format:      {export.format.upper()}")
            self.stdout.write(f"  Duration:    {export.duration:.1f} s ({export.duration / 60:.1f} min)")
            self.stdout.write(f"  Chapters:    {len(export.chapters)}")
            self.stdout.write(f"  Size:        {export.size_bytes:,} bytes ({export.size_bytes / 1e6:.1f} MB)")
            self.stdout.write(f"  Captions:    {root / export.srt_path}, {root / export.vtt_path}")
            if export.report is not None:
                self.stdout.write(f"  ACX check:   {'passed' if export.report.get('passed') else 'FAILED'} (see the report in the zip)")
        if final["status"] == "FAILED":
            raise CommandError("The narration task failed; see the errors above.")
