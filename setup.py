"""Build script for fastbp's compiled extensions.

OpenMP is probed by compiling and running a tiny program with the flags the
compiler in use needs; without it (or with ``FASTBP_NO_OPENMP=1``) fastbp is
built serial and still works. BLAS is not linked: kernels call SciPy's BLAS
through ``scipy.linalg.cython_blas`` at run time.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0);
        return n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags(compiler):
    """(compile_args, link_args) that enable OpenMP for this compiler."""
    ctype = compiler.compiler_type
    if ctype == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; libomp (Homebrew/conda)
        # supplies omp.h and the runtime.
        prefix = os.environ.get("LIBOMP_PREFIX") or os.environ.get("HOMEBREW_PREFIX", "/opt/homebrew")
        inc = os.path.join(prefix, "opt", "libomp", "include")
        lib = os.path.join(prefix, "opt", "libomp", "lib")
        cargs = ["-Xpreprocessor", "-fopenmp"]
        largs = ["-lomp"]
        if os.path.isdir(inc):
            cargs.append("-I" + inc)
            largs = ["-L" + lib, "-Wl,-rpath," + lib, "-lomp"]
        return cargs, largs
    return ["-fopenmp"], ["-fopenmp"]


def check_openmp(compiler):
    """Compile and run the probe; return the flags if it works, else None."""
    if os.environ.get("FASTBP_NO_OPENMP", "0") not in ("", "0"):
        print("fastbp: FASTBP_NO_OPENMP set, building without OpenMP")
        return None
    cargs, largs = openmp_flags(compiler)
    tmp = tempfile.mkdtemp(prefix="fastbp_omp_")
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile(["probe.c"], output_dir=tmp, extra_postargs=cargs)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=largs)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        ok = out.returncode == 0 and out.stdout.strip() == "1"
    except Exception as exc:  # any compile/link/run failure means "no OpenMP"
        print(f"fastbp: OpenMP probe failed ({exc.__class__.__name__}: {exc})")
        ok = False
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        print("fastbp: WARNING: OpenMP not available; building single-threaded kernels")
        return None
    print("fastbp: OpenMP found, flags", cargs, largs)
    return cargs, largs


class BuildExt(build_ext):
    def build_extensions(self):
        comp = self.compiler
        omp = check_openmp(comp)
        if comp.compiler_type == "msvc":
            base = ["/O2"]
        else:
            # -O3 lets gcc/clang vectorise the element-wise loops; never
            # -march=native or -ffast-math (wheels must run everywhere and
            # give IEEE results).
            base = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function",
                    "-Wno-unreachable-code", "-Wno-maybe-uninitialized"]
        for ext in self.extensions:
            ext.extra_compile_args = base + (omp[0] if omp else [])
            ext.extra_link_args = (omp[1] if omp else [])
            ext.define_macros = list(ext.define_macros or []) + [
                ("FASTBP_HAVE_OPENMP", "1" if omp else "0")]
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    inc = [np.get_include(), os.path.join(HERE, "csrc")]
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
    names = ["_openmp_helpers", "_blas", "_dense", "_network"]
    exts = [
        Extension(f"fastbp.{n}", [f"fastbp/{n}.pyx"], include_dirs=inc,
                  define_macros=macros)
        for n in names
        if os.path.exists(os.path.join(HERE, "fastbp", f"{n}.pyx"))
    ]
    return cythonize(
        exts,
        language_level=3,
        compiler_directives={
            # boundscheck/wraparound stay on globally: they also govern
            # Python-level indexing in .pyx files (x[-1] on a list). Kernels
            # use raw pointers or disable them locally with decorators.
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
