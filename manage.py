#!/usr/bin/env python
"""Django's command-line utility for StoryFlow.

The Django project and its apps live in ``backend/``; this script puts that
folder on ``sys.path`` so that imports read as the spec writes them
(``from api.models import Segment``, ``from core_engine.tts_wrapper import generate_audio``).
"""
import os
import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parent / "backend"


def main() -> None:
    """Run an administrative task (``runserver``, ``migrate``, ``narrate``, ...)."""
    sys.path.insert(0, str(BACKEND_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storyflow.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
