"""Thread-count helpers that work with and without OpenMP."""
import operator
import os
import sys

# ---------------------------------------------------------------- fork safety
#
# GNU OpenMP (libgomp) keeps its worker threads in a pool that fork() does not
# copy: in the child of a process that has run a team of two or more threads,
# the next such team waits forever for workers that do not exist (GCC bug
# 60035: a patch that restarts the pool in the child was never merged; the
# same hang is in LightGBM's and faiss's FAQs and issues). multiprocessing's 'fork' start method
# (Linux's default before Python 3.14) does exactly that after a parent's fit.
# Every OpenMP region of fastbp takes its thread count from team_threads(): in
# such a child it is 1, a region that runs on the calling thread alone, so the
# child's fits finish (single-threaded) instead of hanging. PyTorch does the
# same for its intra-op pool after fork. A child started with 'spawn' or
# 'forkserver' is a fresh process and keeps every thread.

cdef int _team_started = 0      # this process has run an OpenMP team of nt >= 2
cdef int _fork_child = 0        # ... and this is a fork() child of one that had


cdef int team_threads(int nt) noexcept nogil:
    """nt, or 1 in a fork() child of a process whose OpenMP team had started."""
    global _team_started
    if nt > 1:
        if _fork_child:
            return 1
        _team_started = 1
    return nt


cdef int fork_child() noexcept nogil:
    return _fork_child


def _after_fork_in_child():
    global _fork_child
    # PyTorch's OpenMP threads share fastbp's runtime: it loads GNU OpenMP
    # into the global symbol scope, so fastbp's GOMP calls resolve to its copy
    # even when fastbp's wheel carries its own. A child of a process whose
    # PyTorch ran a parallel operation hung in fastbp's first team (and in
    # PyTorch's own). Whether it ran one cannot be seen, so an imported torch
    # counts, as a team of fastbp's does.
    if _team_started or "torch" in sys.modules:
        _fork_child = 1


_fork_warned = False


def user_frame():
    """``(frame, stacklevel)`` of the first Python frame outside fastbp's
    modules, scikit-learn's and the import machinery (importlib's, an editable
    install's loader): the user's line, for a warning raised by the caller
    (``warnings.warn``'s stacklevel, or ``warnings.warn_explicit`` at a
    warning raised while fastbp is imported). The frame is None when every
    frame is fastbp's. (A Cython function has no frame of its own, so frame 0
    is the Python code that called it, as stacklevel 1 is.)"""
    import sys
    frame, level = sys._getframe(0), 1
    while frame is not None and (
            frame.f_globals.get("__name__", "").partition(".")[0]
            in ("fastbp", "sklearn", "importlib")
            or "importlib" in frame.f_code.co_filename
            or "_editable_loader" in frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return frame, level


def user_stacklevel():
    """warnings.warn's stacklevel that names the user's line (:func:`user_frame`)."""
    return user_frame()[1]


def _warn_fork_child_once(n_threads):
    global _fork_warned
    if not _fork_warned:
        _fork_warned = True
        import warnings

        # attributed to the user's line (scikit-learn's fit wrapper calls
        # fastbp.sklearn's fit)
        warnings.warn(f"n_threads={n_threads}: fastbp runs on one thread in this process, a "
                      "fork() child of one that had run its threads or imported PyTorch "
                      "(GNU OpenMP's pool does not survive fork); start worker processes with "
                      "multiprocessing.get_context('spawn') or 'forkserver' to keep them",
                      RuntimeWarning, stacklevel=user_stacklevel())


def forked_single_threaded():
    """True in a fork() child whose parent had run fastbp's OpenMP threads,
    or had imported PyTorch (whose OpenMP threads share fastbp's runtime).

    In such a process every fastbp kernel runs on one thread, whatever
    ``n_threads`` says: libgomp's thread pool does not survive ``fork()`` and
    a new team would wait forever (GCC bug 60035). Start worker processes
    with ``multiprocessing.get_context("spawn")`` (or ``"forkserver"``) to
    keep their threads.
    """
    return bool(_fork_child)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def openmp_enabled():
    """True when fastbp was compiled with OpenMP support.

    Returns
    -------
    bool
        False for a build without OpenMP (``-Dopenmp=disabled``, or a
        compiler without it): every kernel then runs on one thread.
    """
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
    n_threads : int or None, default None
        ``None`` uses every core: OpenMP's maximum for the calling thread
        at the call, which honours ``OMP_NUM_THREADS`` and
        ``threadpoolctl.threadpool_limits(user_api="openmp")``, at most the
        cores (unless ``OMP_NUM_THREADS`` asks for more); a positive value
        is taken as is; a negative value counts down from the cores (``-1``
        = all, ``-2`` = all but one), and is at least 1. Every answer is at
        most ``OMP_THREAD_LIMIT`` when that is set (OpenMP caps every team
        there).
        Zero is an error. Without OpenMP the answer is always 1, and so it
        is in a ``fork()`` child of a process that had run fastbp's threads
        (see :func:`forked_single_threaded`).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``n_threads`` is not an int or None.
    ValueError
        ``n_threads`` is 0.
    """
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not hasattr(n_threads, "__index__"):
            raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
        try:
            # not int(): an ndarray has __index__, and int(np.array(1.5)) is 1
            n_threads = operator.index(n_threads)
        except TypeError:
            raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__} "
                            f"{n_threads!r}") from None
        if n_threads == 0:
            raise ValueError("n_threads=0 is invalid: use None for all cores, a positive count, "
                             "or a negative value to count down from the number of cores")
    if not fbp_omp_enabled():
        return 1
    if _fork_child:
        if n_threads is not None and n_threads > 1:
            _warn_fork_child_once(n_threads)
        return 1
    if n_threads is None:
        return default_threads()
    if n_threads < 0:
        n_threads = max(1, cpu_count() + 1 + n_threads)
    return min(n_threads, max(1, fbp_omp_thread_limit()))


# n_threads=None: OpenMP's maximum for the calling thread (OMP_NUM_THREADS, or
# what threadpoolctl's threadpool_limits / omp_set_num_threads set since),
# capped at the cores this process may use (read at import) unless
# OMP_NUM_THREADS asks for more. Read at every call, by effective_n_threads
# and by the layer kernels' compiled fast path (fastbp._dense) alike.
cdef int _default_cap = 2147483647 if os.environ.get("OMP_NUM_THREADS") else cpu_count()
cdef int _cores = cpu_count()


cdef int cores_at_import() noexcept nogil:
    return _cores


cdef int default_threads() noexcept nogil:
    """n_threads=None's count now (1 in a fork() child, see above)."""
    cdef int nt
    if _fork_child:
        return 1
    nt = fbp_omp_max_threads()
    if nt > _default_cap:
        nt = _default_cap
    if nt > fbp_omp_thread_limit():
        nt = fbp_omp_thread_limit()
    return nt if nt > 1 else 1
