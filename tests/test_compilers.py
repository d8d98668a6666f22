"""The C kernels compile with every C compiler on this machine, not only CI's gcc.

The macOS wheels are built with (Apple) clang, the Linux ones with gcc; a
source install uses whatever ``cc`` is. clang rejected the transcendental
kernels' AVX2 and AVX-512 clones (csrc/fastbp_vmath.h) outright: "AVX vector
argument of type 'fbp_v16f' without 'avx512f' enabled changes the ABI", an
error, not a warning, for every clone calling an element function compiled
without its target, so ``CC=clang pip install .`` failed on x86-64.

Each compiler found (gcc, clang, cc) compiles a translation unit that calls
every fbp_v* kernel, so each clone is generated, with the build's flags.
Needs csrc/ beside tests/ (a clone, not an installed test run).
"""
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"

KERNELS = ["fbp_v" + f + "_" + t for t in ("f", "d")
           for f in ("exp", "expm1", "log", "log1p", "tanh", "sigmoid")]

PROBE = """#include "fastbp_vmath.h"
void probe(const float *xf, float *yf, const double *xd, double *yd, ptrdiff_t n)
{
%s
}
""" % "\n".join(f"    {k}({'xf, yf' if k.endswith('_f') else 'xd, yd'}, n);" for k in KERNELS)


def _compilers():
    found, seen = [], set()
    for name in ("gcc", "clang", "cc"):
        path = shutil.which(name)
        if path and Path(path).resolve() not in seen:
            seen.add(Path(path).resolve())
            found.append(name)
    return found


@pytest.mark.skipif(not (CSRC / "fastbp_vmath.h").is_file(),
                    reason="csrc/ is not beside the tests (an installed test run)")
@pytest.mark.parametrize("compiler", _compilers() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no C compiler on PATH"))])
def test_vmath_clones_compile(compiler, tmp_path):
    src = tmp_path / "probe.c"
    src.write_text(PROBE)
    # the flags meson's release build passes (meson.build), plus -Wall
    res = subprocess.run([compiler, "-O3", "-fPIC", "-Wall", "-fno-strict-aliasing",
                          "-I", str(CSRC), "-c", str(src), "-o", str(tmp_path / "probe.o")],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"{compiler} failed on csrc/fastbp_vmath.h:\n{res.stderr[-4000:]}"
    assert "changes the ABI" not in res.stderr, res.stderr[-4000:]
