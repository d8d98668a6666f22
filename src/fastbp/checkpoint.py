"""Checkpoint files: named arrays plus JSON metadata in one ``.npz``, written atomically.

A checkpoint holds a format tag and version, arrays (e.g. a flat parameter
buffer) and JSON documents (e.g. an architecture), and nothing that needs
pickle: it loads with ``allow_pickle=False``. It is written to a temporary
file in the target directory, flushed to disk and renamed into place, so a
crash never leaves a half-written checkpoint. This module knows no model
class: :meth:`fastbp.Network.save` / :meth:`~fastbp.Network.load` decide
what goes in.
"""
import errno
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from fastbp._validation import check_count, checkpoint_write_error, name_too_long, npz_trouble

__all__ = ["FORMAT", "VERSION", "write", "read", "existing", "file_for", "has_entry",
           "kept_train_entries", "history_is_lists", "check_history"]

#: the ``format`` field of every checkpoint's metadata (read refuses other files)
FORMAT = "fastbp-checkpoint"
#: 2: the JSON documents are UTF-8 bytes (uint8 arrays, deflated in the zip; the
#: arrays stay stored); 1 stored them as NumPy
#: unicode strings, 4 bytes a character (a 10,000-epoch loss history made a
#: 17-parameter model 1 MB). Both are read.
VERSION = 2
READS = (1, 2)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def existing(path):
    """The file a checkpoint ``path`` names: ``path`` itself when it exists,
    else with the ``.npz`` suffix :func:`write` adds (so ``save("model")``
    then ``load("model")``, and ``fit(checkpoint_path="run/ckpt",
    resume=True)``, find ``model.npz`` / ``run/ckpt.npz``).

    Parameters
    ----------
    path : str, bytes or os.PathLike

    Returns
    -------
    str
        ``path`` or ``path + ".npz"``; the file need not exist.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):       # as write (_npz_path) takes it
        path = os.fsdecode(path)
    if os.path.exists(path) or path.lower().endswith(".npz"):
        return path
    return path + ".npz" if os.path.exists(path + ".npz") else path


def file_for(path):
    """The file a checkpoint written to ``path`` is (``.npz`` added when
    missing): ``fit(checkpoint_path=path, resume=True)`` resumes from this
    file, the one it writes, and never from another file named ``path``.

    Parameters
    ----------
    path : str, bytes or os.PathLike

    Returns
    -------
    str
        ``path``, with ``.npz`` added when missing.

    Raises
    ------
    ValueError
        An empty ``path``.
    IsADirectoryError
        ``path`` is a directory or ends in a path separator.
    """
    return _npz_path(path)


def check_fit_step(value, path):
    """A checkpoint's ``fit_step`` (the step count at the start of the fit that
    wrote it, which seeds a resumed fit's shuffling) as an int in [0, 2**64)."""
    try:
        return check_count("fit_step", value, 2**64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the checkpoint {os.fspath(path)!r} holds a bad fit_step ({exc}): "
                         "it was not written by fit; resume from a checkpoint fit wrote, or "
                         "start without resume") from None


def kept_train_entries(train):
    """The entries of a resumed checkpoint's ``train`` record that a fit does
    not write itself (such as the ``preprocessing`` that ``fastbp train
    --save`` adds): the checkpoints the resumed fit writes keep them, so
    resuming into a model file of the command line leaves it a model file
    ``fastbp predict`` reads.

    Parameters
    ----------
    train : dict
        A checkpoint's ``train`` record.

    Returns
    -------
    dict
        Its entries but ``epoch``, ``history``, ``step`` and ``dropout_seed``.
    """
    return {k: v for k, v in train.items()
            if k not in ("epoch", "history", "step", "dropout_seed")}


def history_is_lists(history, keys):
    """Whether ``history`` is a dict whose entries under ``keys`` (those it
    has) are lists of numbers (None for an epoch without one): what a fit
    continues on resume (:func:`check_history`) and so what
    :meth:`fastbp.Network.save` lets ``extra['history']`` be.

    Parameters
    ----------
    history : object
    keys : iterable of str

    Returns
    -------
    bool
    """
    return isinstance(history, dict) and all(
        isinstance(history[k], list)
        and all(x is None or (isinstance(x, (int, float, np.integer, np.floating))
                              and not isinstance(x, (bool, np.bool_)))
                for x in history[k])
        for k in keys if k in history)


def check_history(history, keys, path):
    """``history`` (a resumed checkpoint's ``train.history``) for a fit that
    continues the lists under ``keys``: a dict whose entries under those keys
    are lists of numbers (None for an epoch without one).

    Parameters
    ----------
    history : object
    keys : iterable of str
    path : str or os.PathLike
        The checkpoint's file, for the message.

    Returns
    -------
    dict
        ``history`` itself.

    Raises
    ------
    ValueError
        ``history`` is not such a dict (a hand-edited file); the message
        names ``path``.
    """
    if not history_is_lists(history, keys):
        raise ValueError(f"{os.fspath(path)!r}: corrupted checkpoint: train.history is not "
                         "an object of lists of numbers, one per epoch (the fit's "
                         f"{', '.join(map(repr, keys))})")
    return history


def has_entry(path, key):
    """Whether the checkpoint at ``path`` (see :func:`existing`) holds ``key``,
    read from the archive's directory alone (False for a file that is not one).

    Parameters
    ----------
    path : str or os.PathLike
    key : str

    Returns
    -------
    bool
    """
    try:
        with zipfile.ZipFile(existing(path)) as zf:
            return key + ".npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        return False


def write(path, arrays, documents):
    """Write ``arrays`` and the JSON ``documents`` to ``path`` (``.npz`` added) atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; ``.npz`` is added when missing.
    arrays : dict of str -> ndarray
        Stored as ``.npy`` members, uncompressed, without pickle.
    documents : dict of str -> JSON-able object
        Stored as UTF-8 JSON text (a uint8 array) under their keys.

    Returns
    -------
    path : str
        The path written, with its ``.npz`` suffix.

    Raises
    ------
    ValueError
        An empty ``path``; an object array in ``arrays`` (pickle is refused).
    IsADirectoryError
        ``path`` is a directory or ends in a path separator.
    OSError
        The file cannot be written (a missing or read-only directory, a full
        disk); a file there before is unchanged.
    TypeError
        A document that JSON cannot hold.
    """
    path = _npz_path(path)
    entries = {"format": np.array(FORMAT), "version": np.array(VERSION, dtype=np.int64)}
    for key, doc in documents.items():
        text = json.dumps(doc, default=_json_default).encode("utf-8")
        entries[key] = np.frombuffer(text, dtype=np.uint8)
    entries.update(arrays)
    fd, tmp = _temporary_beside(path)
    try:
        # the file object owns fd from here: a failing fchmod (EPERM on a
        # file system without modes) closes it too, and no descriptor leaks
        with os.fdopen(fd, "wb") as f:
            _umask_mode(f.fileno())
            _savez(f, entries, compressed=set(documents))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # a full disk (ENOSPC), a quota, an I/O error, Ctrl-C: the temporary file
        # goes, the previous checkpoint at path was never touched
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise checkpoint_write_error(exc, path) from exc
        raise
    return path


def check_writable(path):
    """Raise the OSError :func:`write` would raise for ``path`` (a missing or
    read-only directory, a file name too long for it), before any training:
    ``fit`` calls it up front, so a bad ``checkpoint_path`` costs no epoch. Creates and removes one empty
    temporary file beside ``path``; ``path`` itself is not touched."""
    path = _npz_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path!r}: it is a directory")
    too_long = name_too_long(path)
    if too_long:
        raise OSError(errno.ENAMETOOLONG, f"cannot write {path!r}: {too_long}")
    fd, tmp = _temporary_beside(path)
    os.close(fd)
    os.unlink(tmp)


def _npz_path(path):
    """The file :func:`write` writes for ``path``: ``.npz`` added if missing.

    A path that names no file is refused before the suffix could make one
    of it: empty (ValueError), or a directory -- existing, or ending in a
    separator (IsADirectoryError, as ``open`` raises): ``dir/`` would have
    become a hidden ``dir/.npz`` and ``dir`` a ``dir.npz`` that a later
    :func:`read` of ``dir`` does not find.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path == "":
        raise ValueError("the checkpoint path is empty: give a file name, e.g. 'model.npz'")
    seps = (os.sep, os.altsep) if os.altsep else (os.sep,)
    if path.endswith(seps) or os.path.isdir(path):
        raise IsADirectoryError(
            errno.EISDIR, f"cannot write {path!r}: it is a directory; give a file name "
            f"in it, e.g. {os.path.join(path, 'model.npz')!r}")
    return path if path.lower().endswith(".npz") else path + ".npz"


def _temporary_beside(path):
    """(fd, name) of a new hidden temporary file in ``path``'s directory; an
    OSError names the caller's path, not the temporary file."""
    try:
        return tempfile.mkstemp(prefix=".fastbp-ckpt-", suffix=".tmp",
                                dir=os.path.dirname(os.path.abspath(path)))
    except OSError as exc:
        raise checkpoint_write_error(exc, path) from None


def _savez(f, entries, compressed):
    """``np.savez(f, **entries)``, with the members named in ``compressed``
    deflated (the JSON documents: a long training history is mostly repeated
    text) and the arrays stored as they are (np.load reads both)."""
    with zipfile.ZipFile(f, mode="w", allowZip64=True) as zf:
        for key, value in entries.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (zipfile.ZIP_DEFLATED if key in compressed
                                  else zipfile.ZIP_STORED)
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _process_umask():
    """The process's umask, read without changing it where Linux tells it
    (/proc/self/status, kernel 4.7+); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _umask_mode(fd):
    """Give the temporary file (mkstemp makes it 0600) the mode a plain
    ``open(path, "w")`` would: 0666 less the umask, so a saved model is as
    readable as any other file the user writes (a model served by another
    user or container account)."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_process_umask())


def read(path, documents, required, wanted=None):
    """The entries of the checkpoint at ``path``, the JSON ``documents`` decoded.

    Parameters
    ----------
    path : str or os.PathLike
        The file (see :func:`existing`).
    documents : sequence of str
        Keys stored as JSON (decoded when present).
    required : sequence of str
        Keys that must be present.
    wanted : callable (str -> bool), optional
        Which other entries to read (``format``, ``version``, ``documents``
        and ``required`` always are). Default: all. The others are never
        decompressed: a few hundred KB of zeros deflated into an unused
        entry cost a caller reading everything half a GB.

    Returns
    -------
    dict of str -> ndarray or decoded JSON
        Every entry read, ``format`` and ``version`` included.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        A truncated or corrupted file, another format, another version, or
        a missing key.
    """
    path = existing(path)
    what = f"{path!r} is not a readable fastbp checkpoint"
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{what}: it is a directory; give the .npz file Network.save wrote")
    trouble = npz_trouble(path)
    if trouble == "npy":
        raise ValueError(f"{what}: it holds one NumPy array (an np.save .npy file); a "
                         "checkpoint is the .npz archive Network.save writes")
    if trouble in ("empty", "cut"):
        raise ValueError(f"{what} ({'empty' if trouble == 'empty' else 'a cut-off zip archive'}"
                         ": truncated or corrupted file?)")
    if trouble is not None:
        raise ValueError(f"{what}: not a NumPy .npz archive (was it written by "
                         "Network.save?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            own = {"format", "version", *documents, *required}
            data = {k: z[k] for k in z.files if wanted is None or k in own or wanted(k)}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            zipfile.LargeZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        # zlib.error: a damaged deflated member; NotImplementedError (a zip
        # version or compression zipfile does not know), RuntimeError (the
        # encryption flag): damaged header bits
        if "pickle" in str(exc):
            # NumPy's advice to load it unsafely does not apply: a checkpoint
            # never holds pickled data (a zip behind other bytes reads as
            # such too)
            raise ValueError(f"{what}: it holds pickled (object) data or is not a plain "
                             ".npz archive; Network.save never writes such a file") from None
        raise ValueError(f"{what} (truncated or corrupted file?): "
                         f"{type(exc).__name__}: {exc}") from None
    if "format" not in data or str(data["format"]) != FORMAT:
        raise ValueError(f"{what}: no '{FORMAT}' format tag "
                         "(was it written by Network.save?)")
    if "version" not in data:
        raise ValueError(f"{what}: missing 'version' (corrupted metadata)")
    try:
        version = int(data["version"])
    except (TypeError, ValueError):
        raise ValueError(f"{what}: its format version {data['version']!r} is not a "
                         "number (corrupted metadata)") from None
    if version not in READS:
        raise ValueError(f"{path!r} is a fastbp checkpoint of format version {version}; this "
                         f"fastbp reads versions {', '.join(map(str, READS))}. Load it with "
                         "the fastbp release that wrote it.")
    for key in required:
        if key not in data:
            raise ValueError(f"{what}: missing {key!r}")
    try:
        for key in documents:
            if key in data:
                doc = data[key]
                text = (doc.tobytes().decode("utf-8") if doc.dtype == np.uint8
                        else str(doc))                  # version 1: a unicode string
                data[key] = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what}: corrupted metadata ({exc})") from None
    return data
