"""``atomic_files``: temp-then-rename writes and the audio cache's hard links."""
import errno
import os

import pytest

from core_engine import atomic_files
from core_engine.atomic_files import TEMP_SUFFIX, atomic_write_path, link_or_copy_atomic


def test_link_replaces_the_target_with_a_hard_link(tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(b"new")
    target = tmp_path / "cache" / "k.wav"
    target.parent.mkdir()
    target.write_bytes(b"old")
    assert link_or_copy_atomic(source, target) is True
    assert os.path.samefile(source, target) and target.read_bytes() == b"new"
    assert not list(target.parent.glob(f".*{TEMP_SUFFIX}"))


def test_link_falls_back_to_an_atomic_copy_where_links_are_refused(tmp_path, monkeypatch):
    # os.link is the OS: refusing it (another filesystem) is simulated.
    def refuse(*_args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(atomic_files.os, "link", refuse)
    source = tmp_path / "a.wav"
    source.write_bytes(b"audio")
    target = tmp_path / "out" / "k.wav"
    assert link_or_copy_atomic(source, target) is False
    assert target.read_bytes() == b"audio" and not os.path.samefile(source, target)
    assert not list(target.parent.glob(f".*{TEMP_SUFFIX}"))


def test_link_of_a_missing_source_raises_and_leaves_nothing(tmp_path):
    folder = tmp_path / "cache"
    with pytest.raises(FileNotFoundError):
        link_or_copy_atomic(tmp_path / "gone.wav", folder / "k.wav")
    assert list(folder.iterdir()) == []


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path):
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "t.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write_path(target, fsync=False) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["t.json"]
