"""What CPU synthesis runs on: model name, the instruction sets the model's speed depends on, cores.

The int8 Kokoro graph's MatMulInteger/ConvInteger kernels are fast only with VNNI
(``avx512_vnni`` or ``avx_vnni``): RTF 0.2–0.4 with it, about 0.5–1.0 on AVX2 only
(../shared/design/engine-facts.md). So the engine's calibration (``engine_calibration``)
is stored per CPU, keyed by :func:`cpu_key`.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The flags that decide which model variant is fastest (reported and part of the key).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class CpuInfo:
    """This machine's CPU.

    Attributes:
        model_name: ``model name`` of /proc/cpuinfo (``platform.processor()`` elsewhere).
        flags: those of :data:`SPEED_FLAGS` the CPU has, in that order.
        cores: CPUs this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``).
    """

    model_name: str
    flags: tuple[str, ...]
    cores: int

    @property
    def has_vnni(self) -> bool:
        """True with ``avx512_vnni`` or ``avx_vnni`` (fast int8 dot products)."""
        return "avx512_vnni" in self.flags or "avx_vnni" in self.flags

    def describe(self) -> str:
        """``"Intel(R) Xeon(R) Processor, 2 cores, avx512_vnni + avx_vnni"`` (or ``no VNNI``)."""
        vnni = [flag for flag in self.flags if flag in ("avx512_vnni", "avx_vnni")]
        return f"{self.model_name}, {self.cores} cores, {' + '.join(vnni) if vnni else 'no VNNI'}"

    def as_dict(self) -> dict:
        """``{"model_name", "flags", "cores", "vnni"}`` (JSON)."""
        return {"model_name": self.model_name, "flags": list(self.flags), "cores": self.cores, "vnni": self.has_vnni}


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """This machine's :class:`CpuInfo` (read once per process)."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return CpuInfo(
        model_name=model or platform.processor() or platform.machine() or "unknown CPU",
        flags=tuple(flag for flag in SPEED_FLAGS if flag in flags),
        cores=max(1, cores),
    )


def cpu_key(info: CpuInfo | None = None) -> str:
    """What a stored calibration must match: model name, speed flags and core count."""
    info = info or cpu_info()
    return f"{info.model_name} | {' '.join(info.flags) or '-'} | {info.cores} cores"
