"""Build and runtime configuration: what ``fastbp info`` prints."""
import os
import platform
import sys

__all__ = ["config_info", "show_config"]


def _version():
    try:
        from fastbp._version import version
        return version
    except ImportError:
        try:
            from importlib.metadata import version
            return version("fastbp")
        except Exception:
            return "unknown"


def config_info():
    """fastbp's configuration as a dict.

    Keys: ``fastbp``, ``python``, ``numpy``, ``scipy`` (versions),
    ``openmp`` (compiled with OpenMP), ``cpu_count``,
    ``forked_single_threaded`` (a ``fork()`` child of a process that had run
    fastbp's threads: every kernel runs on one thread), ``default_threads``
    (what ``n_threads=None`` resolves to now), ``simd`` (the widest SIMD clones
    of the element-wise kernels this CPU runs: "avx512", "avx2+fma" or
    "baseline"), ``adam_sqrt`` (where Adam's float64 update takes its square
    roots: "fma", Newton steps on the FMA units in the AVX-512 clone on Intel
    CPUs, or "divider"; the same bits either way), ``small_gemm_max`` (products with m n k up to this run in
    fastbp's own small-GEMM kernel instead of BLAS; 0: never, every product
    runs in BLAS), ``small_gemm_mid_max`` (products up to this m n k run
    there too when their shape suits its register tiles: see
    ``fastbp._blas``; equal to ``small_gemm_max`` when that rule is off),
    ``small_gemm_narrow_max`` (above that, products up to this m n k run
    there when they are A B or A^T B with a few whole AVX2 vectors of
    columns; 0: off, as it is outside OpenBLAS's Haswell/Zen kernels),
    ``small_gemm_mid512`` (whether mid-size A B and A^T B products, above
    OpenBLAS's small-matrix sizes, and A B^T ones with k <= 256, with whole
    AVX-512 vectors of columns run in the small-GEMM kernel's AVX-512 clone:
    on OpenBLAS's AVX-512 cores, where fastbp's AVX-512 clones run),
    ``blas_small_matrix_kernels`` (whether SciPy's OpenBLAS
    core has small-matrix GEMM kernels of its own: the reason the limit is 0
    on AVX-512 cores), ``blas_core`` (OpenBLAS's core name, "" if unknown),
    ``blas_library`` (the BLAS behind SciPy that fastbp's GEMMs use; None
    when it is not an OpenBLAS fastbp can find),
    ``blas_thread_control`` (whether fastbp can set its thread count),
    ``blas_threads``, ``numpy_pool`` (the path of NumPy's OpenBLAS when the
    layer kernels run their threads on its pool, else None: they use an
    OpenMP team), ``threadpools`` (threadpoolctl's view, or None when it
    is not installed), ``env`` (thread/BLAS environment variables) and
    ``docs`` (the folder of the guides, see :func:`docs_dir`).
    """
    import numpy as np
    import scipy

    from fastbp import _blas, _network, _openmp_helpers

    info = {
        "fastbp": _version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "openmp": _openmp_helpers.openmp_enabled(),
        "cpu_count": _openmp_helpers.cpu_count(),
        "forked_single_threaded": _openmp_helpers.forked_single_threaded(),
        "default_threads": _openmp_helpers.effective_n_threads(None),
        "docs": docs_dir(),
        "simd": _blas.simd_dispatch(),
        "adam_sqrt": _network.adam_sqrt_path(),
        "small_gemm_max": max(_blas.small_gemm_max(), 0),
        "small_gemm_mid_max": max(_blas.small_gemm_mid_max(), 0),
        "small_gemm_narrow_max": _blas.small_gemm_narrow_max(),
        "small_gemm_mid512": _blas.small_gemm_mid512(),
        "blas_small_matrix_kernels": _blas.blas_small_matrix_path(),
        "blas_core": _blas.BLAS_CORENAME,
    }
    ctl = _blas.blas_thread_control()
    info["blas_library"] = ctl["library"]
    info["blas_thread_control"] = ctl["controlled"]
    info["blas_threads"] = _blas.blas_num_threads()
    info["numpy_pool"] = _blas.NUMPY_BLAS_LIBRARY if _blas.numpy_pool_enabled() else None
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpools"] = None
    else:
        pools = []
        lib = os.path.realpath(ctl["library"]) if ctl["library"] else None
        for d in threadpool_info():
            path = d.get("filepath")
            pools.append({
                "user_api": d.get("user_api"),
                "internal_api": d.get("internal_api"),
                "version": d.get("version"),
                "architecture": d.get("architecture"),
                "num_threads": d.get("num_threads"),
                "filepath": path,
                "used_by_fastbp": bool(lib and path and os.path.realpath(path) == lib),
            })
        info["threadpools"] = pools
    info["env"] = {k: v for k, v in os.environ.items()
                   if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "GOMP_", "FASTBP_"))}
    return info


def _small_gemm_words(info):
    """Where matrix products run, in words (a limit of 0 printed as "m*n*k <= 0"
    read as nonsense)."""
    limit, mid = info["small_gemm_max"], info["small_gemm_mid_max"]
    narrow = info.get("small_gemm_narrow_max", 0)
    if limit > 0 and mid > limit:
        few = (f", and products of up to {narrow} with a whole number of AVX2 "
               "vectors of columns (A B: 1-4, or up to 8 while B fits 128 KiB; A^T B: "
               "1-2 while A spans at most 2 MiB)"
               if narrow > mid else "")
        return (f"on: products of up to {limit} multiply-adds (m*n*k) run in fastbp's own "
                f"kernel, those of up to {mid} whose shape suits its register tiles{few}; "
                "the others in BLAS")
    mid512 = ("products with a whole number of AVX-512 vectors of columns run in "
              "fastbp's own AVX-512 kernel: A B and A^T B above 524288 "
              "multiply-adds (m*n*k) with k >= 16 while B fits 512 KiB (A^T B: 2 vectors "
              "or more, A spanning at most 512 KiB), and A B^T with k <= 256 and k <= 2 m "
              "while A fits 256 KiB and B 1 MiB"
              ) if info.get("small_gemm_mid512") else None
    if limit > 0:
        return (f"on: products of up to {limit} multiply-adds (m*n*k) run in fastbp's own "
                "kernel, larger ones in BLAS" + (f"; {mid512}" if mid512 else ""))
    why = (f"OpenBLAS's {info['blas_core']} core has fast small-matrix kernels of its own"
           if info["blas_small_matrix_kernels"] and info["blas_core"]
           else "its size limit is 0")
    if mid512:
        return f"small products run in BLAS ({why}); {mid512}"
    return f"off: every matrix product runs in BLAS (fastbp's own small-product kernel is " \
           f"not used: {why})"


def docs_dir():
    """The folder holding fastbp's guides (``distributed.md``, ``architecture.md``),
    which messages and docstrings cite as ``docs/...``: installed beside the
    package (``fastbp/docs``), or the source tree's ``docs/`` for an editable
    install; None when neither is there."""
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "docs"), os.path.join(here, os.pardir, os.pardir, "docs")):
        if os.path.isfile(os.path.join(d, "distributed.md")):
            return os.path.normpath(d)
    return None


def show_config(file=None):
    """Print fastbp's version, OpenMP, BLAS (library, version, kernel) and thread counts.

    Parameters
    ----------
    file : file-like, optional
        Defaults to ``sys.stdout``.

    Returns
    -------
    dict
        What was printed, as data (versions, ``openmp``, ``cpu_count``,
        ``default_threads``, ``simd``, the small-GEMM limits, the BLAS
        library and its threads, ``threadpools``, ``env``, ``docs``, ...).
        At an interactive prompt it is echoed after the text; write
        ``_ = fastbp.show_config()`` to see the text alone.
    """
    out = file or sys.stdout
    info = config_info()

    def p(*args):
        print(*args, file=out)

    p(f"fastbp {info['fastbp']}")
    p(f"  python     {info['python']}  ({info['platform']})")
    p(f"  numpy      {info['numpy']}")
    p(f"  scipy      {info['scipy']}")
    p(f"  docs       {info['docs'] or 'not installed'}  (the guides cited as docs/...)")
    p("threads")
    p(f"  OpenMP     {'on' if info['openmp'] else 'OFF (serial build)'}")
    p(f"  cores      {info['cpu_count']}")
    why = ""
    if info["forked_single_threaded"]:
        why = ("  (a fork() child of a process that ran fastbp's threads: one thread; "
               "start workers with 'spawn' or 'forkserver' to keep them)")
    p(f"  n_threads=None -> {info['default_threads']}{why}")
    p("kernels")
    p(f"  SIMD       {info['simd']}  (FASTBP_DISPATCH=avx2 or =baseline caps it)")
    p(f"  Adam sqrt  {info['adam_sqrt']}  (float64 square roots: 'fma' on Intel's AVX-512, "
      "'divider' elsewhere; FASTBP_SQRT_ON_FMA=0 or =1 sets it; the same bits)")
    p(f"  small GEMM {_small_gemm_words(info)}")
    p("BLAS (fastbp's GEMMs run in SciPy's BLAS, through scipy.linalg.cython_blas)")
    p(f"  library    {info['blas_library'] or 'not found'}")
    p(f"  threads    {info['blas_threads']}"
      + ("  (fastbp sets them around its calls)" if info["blas_thread_control"]
         else "  (fastbp found no way to set them)"))
    if not info["openmp"]:
        p("  layer kernels' threads: one (serial build)")
    elif info["numpy_pool"]:
        p(f"  layer kernels' threads: NumPy's OpenBLAS pool ({info['numpy_pool']})")
    else:
        p("  layer kernels' threads: an OpenMP team")
    pools = info["threadpools"]
    if pools is None:
        p("  threadpoolctl not installed: `pip install threadpoolctl` shows BLAS versions "
          "and kernels")
    else:
        def text(v):
            return "-" if v is None else str(v)
        wv = max([8] + [len(text(d["version"])) for d in pools])
        wk = max([10] + [len(text(d["architecture"])) for d in pools])
        for d in pools:
            mark = "  <- fastbp" if d["used_by_fastbp"] else ""
            p(f"  {d['internal_api'] or d['user_api']:<9} {text(d['version']):<{wv}} "
              f"kernel={text(d['architecture']):<{wk}} threads={d['num_threads']}  "
              f"{d['filepath']}{mark}")
    env = info["env"]
    p("environment")
    if env:
        for k in sorted(env):
            p(f"  {k}={env[k]}")
    else:
        p("  (no OMP_/OPENBLAS_/MKL_/GOMP_/FASTBP_ variables set)")
    for var, values, _ in _KERNEL_CHOICES:
        value = env.get(var)
        if value is not None and value not in values:
            p(f"  note: {var}={value!r} is ignored: fastbp reads only {_alternatives(values)}")
    if "OPENBLAS_CORETYPE" in env:
        p("  note: OPENBLAS_CORETYPE forces OpenBLAS's kernel choice; unset it to let "
          "OpenBLAS pick the fastest for this CPU")
    return info


#: the values of FASTBP_DISPATCH the kernels read (csrc/fastbp_cpu.h): a cap on
#: the SIMD clones used ("avx512": no cap, the default)
DISPATCH_VALUES = ("baseline", "avx2", "avx512")

#: the values of FASTBP_SQRT_ON_FMA the kernels read (csrc/fastbp_optim.h)
SQRT_ON_FMA_VALUES = ("0", "1")

#: the kernels' environment choices: (variable, its values, what an ignored
#: value leaves in place)
_KERNEL_CHOICES = (
    ("FASTBP_DISPATCH", DISPATCH_VALUES, "the kernels use the widest SIMD clones this CPU has"),
    ("FASTBP_SQRT_ON_FMA", SQRT_ON_FMA_VALUES,
     "Adam's float64 square roots run where the CPU's vendor decides"))


def _alternatives(values):
    """'a', 'b' or 'c' (lower case): the values a choice's variable takes."""
    quoted = [repr(v) for v in values]
    text = ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return text + " (lower case)" if any(v.isalpha() for v in values) else text


def check_dispatch_env(environ=None):
    """Warn (RuntimeWarning) when FASTBP_DISPATCH or FASTBP_SQRT_ON_FMA holds a
    value the kernels ignore: a typo such as ``AVX2`` would otherwise run the
    widest clones silently, and a benchmark meant for the AVX2 path would
    measure AVX-512."""
    import warnings
    environ = os.environ if environ is None else environ
    for var, values, effect in _KERNEL_CHOICES:
        value = environ.get(var)
        if value is None or value in values:
            continue
        # attributed to the line that imported fastbp, not fastbp/__init__'s
        # import of this module
        from fastbp._openmp_helpers import user_frame
        frame = user_frame()[0] or sys._getframe(1)
        warnings.warn_explicit(
            f"{var}={value!r} is ignored ({effect}); its values are {_alternatives(values)}",
            RuntimeWarning, frame.f_code.co_filename, frame.f_lineno,
            module=frame.f_globals.get("__name__"),
            registry=frame.f_globals.setdefault("__warningregistry__", {}))


# once, when fastbp is imported (fastbp/__init__ imports this module)
check_dispatch_env()
