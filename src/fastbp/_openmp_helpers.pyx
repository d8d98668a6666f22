"""Thread-count helpers that work with and without OpenMP."""
import os


def openmp_enabled():
    """True when fastbp was compiled with OpenMP support."""
    return bool(fbp_omp_enabled())


def cpu_count():
    """Number of cores usable by this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def effective_n_threads(n_threads=None):
    """Resolve the ``n_threads`` argument to a positive thread count.

    Parameters
    ----------
    n_threads : int or None
        ``None`` uses every core (OpenMP's maximum, which honours
        ``OMP_NUM_THREADS``); a positive value is taken as is; a negative
        value counts down from the cores (``-1`` = all, ``-2`` = all but one).
        Zero is an error. Without OpenMP the answer is always 1.

    Returns
    -------
    int
    """
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not hasattr(n_threads, "__index__"):
            raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
        n_threads = int(n_threads)
        if n_threads == 0:
            raise ValueError("n_threads=0 is invalid: use None for all cores, a positive count, "
                             "or a negative value to count down from the number of cores")
    if not fbp_omp_enabled():
        return 1
    if n_threads is None:
        if os.environ.get("OMP_NUM_THREADS"):
            return max(1, fbp_omp_max_threads())
        return max(1, min(fbp_omp_max_threads(), cpu_count()))
    if n_threads < 0:
        return max(1, cpu_count() + 1 + n_threads)
    return n_threads


# n_threads=None's count, resolved once at import: the layer checks
# (fastbp._validation) and the layer kernels' compiled fast path
# (fastbp._dense) both read this one value.
DEFAULT_N_THREADS = effective_n_threads(None)
