"""What CPU synthesis runs on: model name, the instruction sets the model's speed depends on, cores.

The int8 Kokoro graph's MatMulInteger/ConvInteger kernels are fast only with VNNI
(``avx512_vnni`` or ``avx_vnni``): RTF 0.2–0.4 with it, about 0.5–1.0 on AVX2 only
(../shared/design/engine-facts.md). So the engine's calibration (``engine_calibration``)
is stored per CPU, keyed by :func:`cpu_key`.

onnxruntime's MLAS picks its kernels from the CPUID instruction, not from /proc/cpuinfo.
The two agree unless something hides features from user space (a hypervisor's or
``bench/cpuid_mask``'s CPUID masking): then the flags are those both report, CPUID's
side read through numpy's runtime dispatch table, which executes CPUID at import.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The flags that decide which model variant is fastest (reported and part of the key).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
#: numpy's names (``__cpu_features__``) of those of :data:`SPEED_FLAGS` it detects by CPUID;
#: ``avx_vnni`` and ``amx_int8`` have none and come from /proc/cpuinfo alone.
NUMPY_FEATURES = {"avx2": "AVX2", "avx512f": "AVX512F", "avx512_vnni": "AVX512VNNI"}


def cpuid_features() -> dict[str, bool]:
    """What CPUID tells this process, as numpy's runtime dispatch saw it: ``{"AVX2": True, ...}``.

    Empty when numpy's (private) table is not there: then /proc/cpuinfo is taken alone.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return {}
    return dict(__cpu_features__)


def visible_flags(proc_flags: set[str], cpuid: dict[str, bool]) -> tuple[str, ...]:
    """Those of :data:`SPEED_FLAGS` in ``proc_flags`` (/proc/cpuinfo) that CPUID does not hide.

    A flag numpy knows (:data:`NUMPY_FEATURES`) counts only if ``cpuid`` reports it too;
    one it does not know (or a table without that name, or an empty one) counts as /proc says.
    """
    def shown(flag: str) -> bool:
        name = NUMPY_FEATURES.get(flag)
        return flag in proc_flags and (name is None or bool(cpuid.get(name, True)))

    return tuple(flag for flag in SPEED_FLAGS if shown(flag))


@dataclass(frozen=True)
class CpuInfo:
    """This machine's CPU.

    Attributes:
        model_name: ``model name`` of /proc/cpuinfo (``platform.processor()`` elsewhere).
        flags: those of :data:`SPEED_FLAGS` the CPU has, in that order (:func:`visible_flags`).
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
        flags=visible_flags(flags, cpuid_features()),
        cores=max(1, cores),
    )


def cpu_key(info: CpuInfo | None = None) -> str:
    """What a stored calibration must match: model name, speed flags and core count."""
    info = info or cpu_info()
    return f"{info.model_name} | {' '.join(info.flags) or '-'} | {info.cores} cores"
