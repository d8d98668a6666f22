"""Recycled output arrays of fastbp.course (a small per-thread pool).

The course's functions return fresh arrays each call, and a fresh array of
a few MB costs page faults when first written: in L_model_backward at
[784, 512, 256, 128, 64, 1] they add 40% to the GEMMs. So large outputs
come from a small per-thread pool, and an array is handed out again only
when nothing but the pool refers to it any more (the caller dropped the
grads/caches/parameters holding it, as a training loop does one iteration
later). Views, memoryviews and containers all hold references, so an array
anyone can still reach is never reused; one a weak reference points at is
let go instead of reused (``weakref.ref(out)`` goes dead once the caller
has dropped the array and the next array of its kind is asked for, instead
of finding a new result there).
"""
import collections
import sys
import threading
import weakref

import numpy as np

from fastbp._course import POOL_MIN_BYTES as _POOL_MIN_BYTES

__all__ = ["new_array", "clear_pool"]


# _POOL_MIN_BYTES (1 << 16, from fastbp._course): smaller arrays come from
# malloc's free lists
_POOL_PER_KEY = 3              # arrays kept per (shape, dtype)
_POOL_MAX_BYTES = 256 << 20    # per thread; least recently used shapes go first


class _Pool(threading.local):
    def __init__(self):
        self.lists = collections.OrderedDict()   # (shape, dtype) -> [ndarray]
        self.nbytes = 0


def _refs(lst, i):
    return sys.getrefcount(lst[i])


def _calibrate_pool():
    """References _refs reports for a pooled array nobody else holds, or None
    (no pooling) where reference counts cannot be trusted that way."""
    if not hasattr(sys, "getrefcount") or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    lst = [np.empty(1)]
    free = _refs(lst, 0)
    held = lst[0]
    busy = _refs(lst, 0)
    del held
    return free if busy == free + 1 and _refs(lst, 0) == free else None


_POOL = _Pool()
_FREE_REFS = _calibrate_pool()


def new_array(shape, dtype):
    """An uninitialised C-contiguous array of (shape, dtype) that nothing else
    references: recycled from the pool when one is free."""
    if type(dtype) is type:
        dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if _FREE_REFS is None or nbytes < _POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    pool = _POOL
    key = (shape, dtype)
    lst = pool.lists.get(key)
    if lst is None:
        lst = pool.lists[key] = []
    else:
        pool.lists.move_to_end(key)
        for i in range(len(lst)):
            if _refs(lst, i) == _FREE_REFS:
                a = lst[i]
                if weakref.getweakrefcount(a):
                    # only the pool holds it, but a weak reference points at
                    # it: let it go, so the reference dies as it would with
                    # NumPy's fresh arrays
                    del lst[i]
                    pool.nbytes -= nbytes
                    break
                f = a.flags
                if f.c_contiguous and f.writeable and a.shape == shape and a.dtype == dtype:
                    return a
    a = np.empty(shape, dtype)
    if len(lst) == _POOL_PER_KEY:
        lst.pop(0)          # still in use by the caller; stop tracking the oldest
        pool.nbytes -= nbytes
    lst.append(a)
    pool.nbytes += nbytes
    while pool.nbytes > _POOL_MAX_BYTES and len(pool.lists) > 1:
        _, old = pool.lists.popitem(last=False)
        pool.nbytes -= sum(x.nbytes for x in old)
    return a


def clear_pool():
    """Drop this thread's recycled output arrays (see the module notes)."""
    _POOL.lists.clear()
    _POOL.nbytes = 0
