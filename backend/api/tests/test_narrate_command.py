"""``manage.py narrate`` and ``manage.py seed_demo``, driven through call_command with the fake engine."""
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from api.management.commands.narrate import read_story
from api.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


def test_read_story_uses_header_title_and_drops_source_line(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("# The Gift — O. Henry\nSource: somewhere/file.txt\n\nOne dollar.\n\nTwo dollars.\n", encoding="utf-8")
    title, text = read_story(path)
    assert title == "The Gift — O. Henry"
    assert "Source:" not in text and "One dollar." in text


def test_narrate_imports_and_generates_everything(tmp_path, fake_engine, media_root):
    path = tmp_path / "tiny.txt"
    path.write_text("# Tiny Tale\nSource: x/y.txt\n\nOnce there was a fox.\n\nThe end.\n", encoding="utf-8")
    out = StringIO()
    call_command("narrate", str(path), "--voice", "jm_kumo", "--speed", "1.2", stdout=out, stderr=StringIO())
    project = Project.objects.get(title="Tiny Tale")
    segments = list(project.segments.order_by("sequence_index"))
    assert [s.text_content for s in segments] == ["Tiny Tale", "Once there was a fox.", "The end."]
    assert all(s.audio_file and s.audio_duration for s in segments)
    assert {c["voice_id"] for c in fake_engine.calls} == {"jm_kumo"}
    assert {c["speed"] for c in fake_engine.calls} == {1.2}
    report = out.getvalue()
    assert "COMPLETED" in report
    total = sum(s.audio_duration for s in segments)
    assert f"Audio:         {total:.1f} s" in report
    assert "Real-time factor" in report
    assert str(Path(media_root) / "projects" / str(project.id) / "audio") in report


def test_narrate_rejects_unknown_voice(tmp_path, fake_engine):
    path = tmp_path / "t.txt"
    path.write_text("Words.", encoding="utf-8")
    with pytest.raises(CommandError, match="not available"):
        call_command("narrate", str(path), "--voice", "nobody", stdout=StringIO())


def test_narrate_rejects_speed_out_of_range(tmp_path, fake_engine):
    path = tmp_path / "t.txt"
    path.write_text("Words.", encoding="utf-8")
    with pytest.raises(CommandError, match="outside"):
        call_command("narrate", str(path), "--speed", "3", stdout=StringIO())


def test_narrate_missing_file_and_missing_model(tmp_path, no_model):
    with pytest.raises(CommandError, match="No such file"):
        call_command("narrate", str(tmp_path / "nope.txt"))
    path = tmp_path / "t.txt"
    path.write_text("Words.", encoding="utf-8")
    with pytest.raises(CommandError, match="install_model"):
        call_command("narrate", str(path))


def test_seed_demo_is_idempotent():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    project = Project.objects.get()
    assert project.title == "The Last Lamplighter of Harrow Lane"
    assert project.segments.count() >= 5
