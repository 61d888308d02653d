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
    with pytest.raises(CommandError, match="Unknown voice .nobody."):
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


@pytest.mark.real_model
def test_ctrl_c_cancels_cleanly_after_the_current_segment(tmp_path, installed_model):
    """A real ``manage.py narrate`` process gets SIGINT mid-batch: it ends CANCELLED, keeping finished audio only."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parents[3]
    story = tmp_path / "story.txt"
    paragraphs = [
        f"Paragraph {n}. The wind rattled the shutters of the old mill, and the miller counted his sacks of flour again."
        for n in range(1, 6)
    ]
    story.write_text("\n\n".join(paragraphs), encoding="utf-8")
    media, db = tmp_path / "media", tmp_path / "narrate.sqlite3"
    env = {**os.environ, "STORYFLOW_DB_PATH": str(db), "STORYFLOW_MEDIA_ROOT": str(media), "STORYFLOW_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, str(repo / "manage.py"), "narrate", str(story)],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell running the tests in the background (non-interactive `cmd &`) starts them with SIGINT
        # ignored, and an ignored SIGINT is inherited and kept by Python; restore the default as a terminal has it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not list((media / "projects").rglob("*.wav")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no segment finished in time"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stdout + stderr
    report = stdout[stdout.find("Status:"):]  # pytest truncates long assertion texts; keep the report
    assert "Status:        CANCELLED" in stdout, report + stderr[-2000:]
    assert "Cancelling" in stdout + stderr

    with sqlite3.connect(db) as connection:
        pointed = {row[0] for row in connection.execute("SELECT audio_file FROM api_segment WHERE audio_file IS NOT NULL")}
    files = {"/media/" + str(p.relative_to(media)) for p in (media / "projects").rglob("*.wav")}
    assert files == pointed  # every file is in the database and every pointer has its file
    assert 1 <= len(files) < len(paragraphs)
    assert not [p for p in (media / "projects").rglob("*") if p.is_file() and p.suffix != ".wav"]  # no temp files left
    assert not [p for p in media.rglob("*.tmp")]


def test_format_eta():
    from api.management.commands.narrate import format_eta

    assert format_eta(None) == "--:--"
    assert format_eta(65.4) == "1:05"
    assert format_eta(3723) == "1:02:03"


def test_narrate_bar_shows_stage_current_step_and_eta(tmp_path, fake_engine, media_root, capsys):
    """The bar (tqdm, on stderr) is driven by the task's stage, current_step and eta_seconds."""
    path = tmp_path / "steps.txt"
    path.write_text("First part. Second part. Third part.\n\nAnother one. And more.\n", encoding="utf-8")
    fake_engine.chunk_delay = 0.3  # longer than the 0.2 s poll, so each chunk is seen
    call_command("narrate", str(path), "--title", "Steps", stdout=StringIO(), stderr=StringIO())
    bar = capsys.readouterr().err
    assert "synthesizing:" in bar
    assert "Synthesizing segment 1 of 2 (chunk 2 of 3)" in bar
    assert "ETA " in bar
    assert "finished: 100%" in bar


def test_narrate_markdown_with_chapters_and_export(tmp_path, fake_engine, media_root):
    """`narrate book.md --export m4b --chapters 2-3`: only chapters 2 and 3 are imported, narrated and exported."""
    path = tmp_path / "book.md"
    path.write_text(
        "# One\n\nFirst chapter text.\n\n# Two\n\nSecond chapter. Two sentences.\n\n# Three\n\nThird chapter text.\n",
        encoding="utf-8",
    )
    out = StringIO()
    call_command("narrate", str(path), "--export", "m4b", "--chapters", "2-3", stdout=out, stderr=StringIO())
    project = Project.objects.get()
    assert [s.chapter_title for s in project.segments.order_by("sequence_index") if s.chapter_title] == ["Two", "Three"]
    export = project.exports.get()
    assert [c["title"] for c in export.chapters] == ["Two", "Three"]
    main = Path(media_root) / export.file_path
    assert main.is_file() and main.suffix == ".m4b"
    report = out.getvalue()
    assert f"Audiobook:     {main}" in report
    assert "Chapters:    2" in report
    assert f"Duration:    {export.duration:.1f} s" in report
    assert "Status:        COMPLETED" in report


def test_narrate_rejects_a_chapter_range_outside_the_book(tmp_path, fake_engine):
    path = tmp_path / "book.md"
    path.write_text("# One\n\nText.\n\n# Two\n\nMore text.\n", encoding="utf-8")
    with pytest.raises(CommandError, match="not in the book"):
        call_command("narrate", str(path), "--chapters", "2-5", stdout=StringIO())
    with pytest.raises(CommandError, match="range such as 1-3"):
        call_command("narrate", str(path), "--chapters", "two", stdout=StringIO())
    assert not Project.objects.exists()
