"""Shared set-up of the task benchmarks (``eta_benchmark.py``, ``status_benchmark.py``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORY = REPO.parent / "shared" / "data" / "stories" / "poe_tell_tale_heart.txt"


def setup_django(workdir: Path) -> None:
    """Configure Django on a temporary database and media folder under ``workdir``, and migrate it."""
    sys.path.insert(0, str(REPO / "backend"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "storyflow.settings"
    os.environ["STORYFLOW_DB_PATH"] = str(workdir / "db.sqlite3")
    os.environ["STORYFLOW_MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("STORYFLOW_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def import_story_prefix(path: Path, chars: int, title: str):
    """Import whole paragraphs of the story until at least ``chars`` characters; return ``(project, characters)``."""
    from api.services.story_import import import_story, parse_story_file

    _, text = parse_story_file(path.read_text(encoding="utf-8"))
    paragraphs, size = [], 0
    for paragraph in text.split("\n\n"):
        if size >= chars:
            break
        paragraphs.append(paragraph)
        size += len(paragraph)
    return import_story(title=title, text="\n\n".join(paragraphs)), size
