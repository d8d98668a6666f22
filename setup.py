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


def _libomp_dirs():
    """(include, lib) of a libomp for Apple clang, or None.

    Looked for under $LIBOMP_PREFIX, $HOMEBREW_PREFIX, Homebrew's default
    prefixes (/opt/homebrew on arm64, /usr/local on x86_64) and $CONDA_PREFIX,
    either Homebrew's keg layout (opt/libomp/...) or a plain prefix (conda's
    llvm-openmp).
    """
    prefixes = [os.environ.get(k) for k in ("LIBOMP_PREFIX", "HOMEBREW_PREFIX")]
    prefixes += ["/opt/homebrew", "/usr/local", os.environ.get("CONDA_PREFIX")]
    for prefix in filter(None, prefixes):
        for root in (os.path.join(prefix, "opt", "libomp"), prefix):
            inc, lib = os.path.join(root, "include"), os.path.join(root, "lib")
            if os.path.exists(os.path.join(inc, "omp.h")) and os.path.isdir(lib):
                return inc, lib
    return None


def openmp_flags(compiler):
    """(compile_args, link_args) that enable OpenMP for this compiler."""
    ctype = compiler.compiler_type
    if ctype == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; libomp (Homebrew/conda)
        # supplies omp.h and the runtime. delocate copies it into the wheel.
        cargs = ["-Xpreprocessor", "-fopenmp"]
        largs = ["-lomp"]
        dirs = _libomp_dirs()
        if dirs:
            cargs.append("-I" + dirs[0])
            largs = ["-L" + dirs[1], "-Wl,-rpath," + dirs[1], "-lomp"]
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


def _is_gcc(compiler):
    cc = getattr(compiler, "compiler_so", None) or getattr(compiler, "compiler", None) or [""]
    return sys.platform != "darwin" and "clang" not in os.path.basename(cc[0])


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
                    "-Wno-unreachable-code"]
            if _is_gcc(comp):  # clang warns about the unknown flag
                base.append("-Wno-maybe-uninitialized")
        for ext in self.extensions:
            ext.extra_compile_args = base + (omp[0] if omp else [])
            ext.extra_link_args = (omp[1] if omp else [])
            ext.define_macros = list(ext.define_macros or []) + [
                ("FASTBP_HAVE_OPENMP", "1" if omp else "0"),
                # The wheel is built against NumPy 2 but must import on every
                # NumPy pyproject.toml allows: pin the C-API target to that
                # floor instead of the build NumPy's default (which rises).
                ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION"),
            ]
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    inc = [np.get_include(), os.path.join(HERE, "csrc")]
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
    names = ["_openmp_helpers", "_blas", "_dense", "_network", "_course"]
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
