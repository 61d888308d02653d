"""Which model variant and session layout are fastest on this CPU, measured once and stored.

The int8 graph is fast only with VNNI; on AVX2 alone its dequantized float32
twin can be faster (``dequantize``). And on a few cores, N ONNX Runtime sessions
of one thread each, over consecutive chunks, can beat one session with N
threads. Which wins depends on the CPU, so StoryFlow measures it:

1. every available variant (``ModelFiles``) is loaded as one session with
   onnxruntime's default threads and times :data:`CALIBRATION_TEXT`, phonemized
   once and split into its sentences (one chunk each), after a short warm-up;
2. every variant is also loaded as ``min(cores, MAX_SESSIONS)`` sessions of one
   thread each, which time the same chunks, run concurrently, in order;
3. the fastest (variant, layout) pair is kept: a :class:`Calibration`, stored as
   JSON beside the model (``models/engine-calibration.json``) with the CPU's key
   (``cpu_info.cpu_key``: model name, speed flags, cores), so a different CPU
   calibrates again.

The pairs are all timed because the fastest variant in one session need not be the
fastest in N, and the variants differ in memory. On the AVX2 code path of a 2-core
AMD EPYC (``bench/engine_ratio.py`` under ``bench/cpuid_mask/run``), a first
calibration had float32 edge int8 in one session (24.4 against 23.3 chars/s, within
the noise), and choosing the variant first then kept float32 in 2 sessions: RTF 0.49
against the bare library's 0.50, with 1,256 MB of peak RSS (two copies of 325 MB of
float32 weights). Timing every pair, the next calibration (same session) gave int8
42.0 / 44.9 chars/s (1 session x 2 threads / 2 sessions x 1 thread) and float32
34.7 / 36.1, kept int8 in 2 sessions: RTF 0.33 against bare 0.36, 867 MB.

Loading and timing take about 30–50 s on a 2-core machine, once per CPU. The
measuring is injected (``load``), so the choice itself is tested with fakes.

Measured (``models/engine-calibration.json`` as written by ``bench/engine_ratio.py``'s
calibration step): on a 2-core AMD EPYC with avx512_vnni (int8 convolutions as
GEMMs, ``conv_gemm``), int8 33.4 chars/s against float32 25.7, and for int8 one
session x 2 threads 33.4 chars/s against 2 sessions x 1 thread 50.8 (1.52x): N
sessions of one thread win, and are kept. On a 2-core Intel Xeon with VNNI, before
``conv_gemm``: int8 11.2 against float32 10.9, one session 11.2 against two 14.2.
"""
from __future__ import annotations

import json
import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from core_engine.atomic_files import atomic_write_path
from core_engine.cpu_info import cpu_info, cpu_key

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "engine-calibration.json"
#: Most sessions tried: each one holds its own copy of the weights (~350 MB of RSS for int8).
MAX_SESSIONS = 2
#: Public domain (after Edgar Allan Poe, "The Tell-Tale Heart", 1843); 4 sentences, 198 characters.
CALIBRATION_TEXT = (
    "True! Nervous, very, very dreadfully nervous I had been and am. "
    "But why will you say that I am mad? "
    "The disease had sharpened my senses, not destroyed them. "
    "Above all was the sense of hearing acute."
)
WARMUP_TEXT = "Hello there."
#: Calibration voice speed (the model default).
CALIBRATION_SPEED = 1.0


@dataclass(frozen=True)
class EngineLayout:
    """How synthesis spreads over the cores.

    Attributes:
        sessions: ONNX Runtime sessions run side by side over consecutive chunks (≥ 1).
        threads_per_session: ``intra_op_num_threads`` of each; 0 = onnxruntime's default
            (one per core).
    """

    sessions: int = 1
    threads_per_session: int = 0

    @property
    def label(self) -> str:
        """``"1 session x all cores"`` or ``"2 sessions x 1 thread"``."""
        threads = "all cores" if self.threads_per_session == 0 else f"{self.threads_per_session} thread" + (
            "s" if self.threads_per_session > 1 else "")
        return f"{self.sessions} session{'s' if self.sessions > 1 else ''} x {threads}"


DEFAULT_LAYOUT = EngineLayout(1, 0)


@dataclass(frozen=True)
class Calibration:
    """The stored outcome of :func:`calibrate`.

    Attributes:
        cpu_key: ``cpu_info.cpu_key()`` of the CPU it was measured on.
        cpu: ``CpuInfo.as_dict()`` of that CPU.
        variant: the fastest model variant ("official", "bundled-int8", "bundled-float32").
        layout: the :class:`EngineLayout` that, with ``variant``, was fastest.
        grid_chars_per_second: characters of text per second of wall time, for every
            variant in every layout timed: ``{variant: {layout label: chars/s}}``.
        text_chars: length of the calibration text (characters).
        calibrated_at: ISO 8601, UTC.
    """

    cpu_key: str
    cpu: dict
    variant: str
    layout: EngineLayout
    grid_chars_per_second: dict[str, dict[str, float]] = field(default_factory=dict)
    text_chars: int = len(CALIBRATION_TEXT)
    calibrated_at: str = ""

    @property
    def variant_chars_per_second(self) -> dict[str, float]:
        """chars/s per variant in one session with default threads (the grid's first column)."""
        return {name: row[DEFAULT_LAYOUT.label] for name, row in self.grid_chars_per_second.items()
                if DEFAULT_LAYOUT.label in row}

    @property
    def layout_chars_per_second(self) -> dict[str, float]:
        """chars/s per layout label for the chosen ``variant`` (its row of the grid)."""
        return dict(self.grid_chars_per_second.get(self.variant, {}))

    @property
    def is_complete(self) -> bool:
        """Whether every variant was timed in the same layouts (False for a file from before
        the grid, which timed the layouts for the chosen variant only: it calibrates again)."""
        rows = [set(row) for row in self.grid_chars_per_second.values()]
        return bool(rows) and all(row == rows[0] for row in rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (what the file holds and ``GET /api/engine/`` reports), the grid's two views included."""
        data = asdict(self)
        data["layout"] = asdict(self.layout)
        data["variant_chars_per_second"] = self.variant_chars_per_second
        data["layout_chars_per_second"] = self.layout_chars_per_second
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        """Inverse of :meth:`as_dict`. Raises KeyError/TypeError/ValueError for a malformed one.

        A file from before the grid was kept is read from its two views: each variant's
        one-session figure, and the chosen variant's per-layout figures."""
        layout = EngineLayout(int(data["layout"]["sessions"]), int(data["layout"]["threads_per_session"]))
        if layout.sessions < 1 or layout.threads_per_session < 0:
            raise ValueError(f"bad layout {layout}")
        return cls(
            cpu_key=str(data["cpu_key"]), cpu=dict(data.get("cpu") or {}), variant=str(data["variant"]), layout=layout,
            grid_chars_per_second=_grid_of(data, str(data["variant"])),
            text_chars=int(data.get("text_chars") or len(CALIBRATION_TEXT)),
            calibrated_at=str(data.get("calibrated_at") or ""),
        )


def _grid_of(data: dict[str, Any], variant: str) -> dict[str, dict[str, float]]:
    """``grid_chars_per_second`` of a stored calibration, rebuilt from the two views in an older file."""
    if data.get("grid_chars_per_second"):
        return {str(name): {str(k): float(v) for k, v in row.items()} for name, row in data["grid_chars_per_second"].items()}
    grid = {str(name): {DEFAULT_LAYOUT.label: float(v)} for name, v in (data.get("variant_chars_per_second") or {}).items()}
    if data.get("layout_chars_per_second"):
        grid.setdefault(variant, {}).update({str(k): float(v) for k, v in data["layout_chars_per_second"].items()})
    return grid


def calibration_path(models_dir: Path | str) -> Path:
    """``<models_dir>/engine-calibration.json``."""
    return Path(models_dir) / CALIBRATION_FILE


def read_calibration(models_dir: Path | str, key: str | None = None) -> Calibration | None:
    """The stored calibration if it was measured on this CPU (``key``, default ``cpu_key()``), else None.

    A missing, unreadable or malformed file is None (and calibration runs again).
    """
    path = calibration_path(models_dir)
    try:
        calibration = Calibration.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        logger.warning("Ignoring unreadable engine calibration %s", path, exc_info=True)
        return None
    return calibration if calibration.cpu_key == (key or cpu_key()) else None


def write_calibration(models_dir: Path | str, calibration: Calibration) -> Path:
    """Write ``calibration`` atomically beside the model; returns the path."""
    path = calibration_path(models_dir)
    with atomic_write_path(path) as tmp:
        Path(tmp).write_text(json.dumps(calibration.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def choose_fastest(seconds: dict[Any, float]) -> Any:
    """The key with the smallest time (the first one on a tie). Raises ValueError when empty."""
    if not seconds:
        raise ValueError("nothing was measured")
    return min(seconds, key=lambda key: (seconds[key], list(seconds).index(key)))


def calibration_chunks(tokenizer, text: str = CALIBRATION_TEXT, lang: str = "en-us") -> list[str]:
    """The calibration text phonemized (espeak-ng through ``tokenizer.phonemize``), one chunk per sentence."""
    sentences = [s.strip() + "." for s in text.replace("!", ".").replace("?", ".").split(".") if s.strip()]
    return [" ".join(tokenizer.phonemize(sentence, lang).split()) for sentence in sentences]


def time_chunks(kokoros: Sequence, chunks: Sequence[str], voice: str, speed: float = CALIBRATION_SPEED) -> float:
    """Wall seconds to synthesize ``chunks`` (phonemes) with ``kokoros`` side by side.

    One session: in order on this thread. Several: a thread per session, each chunk
    run on whichever session is free (as ``KokoroEngine.synthesize`` does).
    """
    def run(kokoro, phonemes: str) -> None:
        kokoro.create(phonemes, voice=voice, speed=speed, is_phonemes=True, trim=False)

    started = time.perf_counter()
    if len(kokoros) == 1:
        for phonemes in chunks:
            run(kokoros[0], phonemes)
    else:
        free: queue.Queue = queue.Queue()
        for kokoro in kokoros:
            free.put(kokoro)

        def job(phonemes: str) -> None:
            kokoro = free.get()
            try:
                run(kokoro, phonemes)
            finally:
                free.put(kokoro)

        with ThreadPoolExecutor(max_workers=len(kokoros), thread_name_prefix="calibrate") as pool:
            list(pool.map(job, chunks))
    return time.perf_counter() - started


Loader = Callable[[Any, EngineLayout], list]


def calibrate(
    variants: dict[str, Any],
    load: Loader,
    *,
    cores: int | None = None,
    voice: str | None = None,
    text: str = CALIBRATION_TEXT,
    timer: Callable[[Sequence, Sequence[str], str], float] = time_chunks,
) -> Calibration:
    """Time every one of ``variants`` (variant name → model files) in every session layout; return the fastest pair.

    Args:
        variants: the variants available, in order of preference on a tie.
        load: ``load(files, layout)`` → that many loaded ``kokoro_onnx.Kokoro`` (sessions).
        cores: cores to plan for (default ``cpu_info().cores``).
        voice: voice id to time with (default the first voice of the first session).
        text: the calibration text (default :data:`CALIBRATION_TEXT`).
        timer: ``timer(kokoros, phoneme_chunks, voice)`` → seconds (:func:`time_chunks`).

    Raises:
        ValueError: ``variants`` is empty.
        Exception: whatever loading or synthesis raise.
    """
    if not variants:
        raise ValueError("no model variant to calibrate")
    cores = cores or cpu_info().cores
    grid: dict[tuple[str, EngineLayout], float] = {}
    chunks: list[str] = []

    def measure(name: str, layout: EngineLayout) -> None:
        nonlocal chunks, voice
        kokoros = load(variants[name], layout)
        chunks = chunks or calibration_chunks(kokoros[0].tokenizer, text)
        voice = voice or sorted(kokoros[0].get_voices())[0]
        timer(kokoros, [" ".join(kokoros[0].tokenizer.phonemize(WARMUP_TEXT, "en-us").split())] * layout.sessions, voice)
        grid[name, layout] = timer(kokoros, chunks, voice)
        logger.info("Calibration: %s, %s: %.2f s for %d characters", name, layout.label, grid[name, layout], len(text))

    first = next(iter(variants))
    measure(first, DEFAULT_LAYOUT)  # also phonemizes the chunks, which bound the sessions worth trying
    sessions = min(cores, MAX_SESSIONS, len(chunks))
    layouts = [DEFAULT_LAYOUT] + ([EngineLayout(sessions, 1)] if sessions > 1 else [])
    for name in variants:
        for layout in layouts:
            if (name, layout) not in grid:
                measure(name, layout)
    variant, layout = choose_fastest(grid)

    def speed(seconds: float) -> float:
        return round(len(text) / seconds, 1)

    info = cpu_info()
    return Calibration(
        cpu_key=cpu_key(info),
        cpu=info.as_dict(),
        variant=variant,
        layout=layout,
        grid_chars_per_second={name: {lay.label: speed(grid[name, lay]) for lay in layouts} for name in variants},
        text_chars=len(text),
        calibrated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
