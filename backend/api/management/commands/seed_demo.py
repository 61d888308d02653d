"""``python manage.py seed_demo``: create the demo project from the story shipped in the repository."""
from pathlib import Path

from django.core.management.base import BaseCommand

from api.models import Project
from api.services.story_import import import_story, parse_story_file

DEMO_STORY = Path(__file__).resolve().parents[2] / "demo" / "the_lamplighter.txt"


class Command(BaseCommand):
    help = "Create the demo project (a short original story) unless a project with its title exists."

    def handle(self, *args, **options):
        title, text = parse_story_file(DEMO_STORY.read_text(encoding="utf-8"))
        existing = Project.objects.filter(title=title).first()
        if existing:
            self.stdout.write(f"Demo project already there: {title} ({existing.id})")
            return
        project = import_story(title=title, text=text)
        self.stdout.write(self.style.SUCCESS(f"Created demo project: {title} ({project.id}), {project.segments.count()} segments"))
