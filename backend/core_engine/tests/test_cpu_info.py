"""cpu_info: the speed flags are those both /proc/cpuinfo and CPUID (as numpy saw it) report."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core_engine.cpu_info import SPEED_FLAGS, CpuInfo, cpu_key, visible_flags

REPO = Path(__file__).resolve().parents[3]
MASK_RUNNER = REPO / "bench" / "cpuid_mask" / "run"


def test_visible_flags_keeps_what_both_report_in_speed_flag_order():
    proc = {"fpu", "avx_vnni", "avx2", "avx512_vnni", "avx512f"}
    cpuid = {"AVX2": True, "AVX512F": True, "AVX512VNNI": True}

    assert visible_flags(proc, cpuid) == ("avx2", "avx512f", "avx512_vnni", "avx_vnni")


def test_visible_flags_drops_what_cpuid_hides_and_keeps_flags_numpy_has_no_name_for():
    proc = {"avx2", "avx512f", "avx512_vnni", "amx_int8"}
    cpuid = {"AVX2": True, "AVX512F": False, "AVX512VNNI": False}

    assert visible_flags(proc, cpuid) == ("avx2", "amx_int8")


def test_visible_flags_takes_proc_alone_without_a_cpuid_view_and_never_adds_a_flag():
    assert visible_flags({"avx2", "avx512_vnni"}, {}) == ("avx2", "avx512_vnni")
    assert visible_flags({"avx2"}, {"AVX512F": True, "AVX512VNNI": True}) == ("avx2",)


def test_cpu_key_changes_with_the_flags_so_a_masked_cpu_calibrates_again():
    vnni = CpuInfo(model_name="AMD EPYC", flags=("avx2", "avx512f", "avx512_vnni"), cores=2)
    avx2 = CpuInfo(model_name="AMD EPYC", flags=("avx2",), cores=2)

    assert cpu_key(vnni) != cpu_key(avx2)
    assert avx2.has_vnni is False and "no VNNI" in avx2.describe()


def _proc_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists() or "cpuid_fault" not in _proc_flags()
                    or shutil.which("cc") is None, reason="needs Linux CPUID faulting and a C compiler")
def test_under_the_avx2_mask_cpu_info_reports_no_avx512_or_vnni_and_a_different_key():
    """Real: bench/cpuid_mask's shim traps CPUID in a child; numpy and cpu_info see AVX2 only."""
    code = (
        "import json, sys; sys.path.insert(0, 'backend');"
        "from core_engine.cpu_info import cpu_info, cpu_key, cpuid_features;"
        "f = cpuid_features(); i = cpu_info();"
        "print(json.dumps({'flags': list(i.flags), 'key': cpu_key(i), 'numpy': [f.get('AVX2'), f.get('AVX512F')]}))"
    )
    run = lambda *prefix: json.loads(subprocess.run(  # noqa: E731
        [*prefix, sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": ""}).stdout)

    plain, masked = run(), run(str(MASK_RUNNER))

    assert masked["numpy"] == [True, False]
    assert "avx2" in masked["flags"]
    assert not {"avx512f", "avx512_vnni", "avx_vnni", "amx_int8"} & set(masked["flags"])
    assert set(masked["flags"]) <= set(plain["flags"]) <= set(SPEED_FLAGS)
    if "avx512f" in plain["flags"]:
        assert masked["key"] != plain["key"]
