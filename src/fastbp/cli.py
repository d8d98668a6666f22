"""Command line: ``fastbp train``, ``fastbp predict``, ``fastbp info``.

``fastbp train`` with no arguments trains the course's week-3 network
(2 -> 4 tanh -> 1 sigmoid) on the planar "flower" data, then prints its
accuracy, the time per epoch and the speed-up over the same training loop
written in plain NumPy, measured in the same run.

``fastbp train --data FILE`` trains on a table (CSV/TSV read with pandas,
Parquet, or a ``.npz`` of arrays ``X`` and ``y``): it finds the target
column, infers the task, holds out a stratified test set, standardises the
features (and a regression target), and reports train and test scores.
``--save`` writes the network together with that preprocessing, which
``fastbp predict --model FILE --data NEW`` applies to new data.

``--output exp`` trains a Poisson regression of counts (exp output, the
Poisson deviance, target not standardised). ``fastbp predict`` writes one
CSV column ``predicted_<target>``, printed or with ``--out``, one line per
input row, after the input columns ``--keep`` copies (an id, the row index);
``--dropna`` leaves the prediction of a row with a missing feature empty.

Every error ends in one line ``fastbp: error: ...`` with exit status 2
(the options) or 1 (the data, or a failure while running). ``fastbp``
with no command prints its help to stderr and exits 2.
"""
import argparse
import collections.abc
import contextlib
import csv
import io
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
import warnings
import zipfile

import numpy as np

from fastbp import _validation
from fastbp._version import version

__all__ = ["main"]

PLANAR_DEFAULTS = dict(layers="4,1", hidden="tanh", output="sigmoid", init="course",
                       epochs=10000, batch_size=None, lr=1.2, optimizer="sgd", seed=2,
                       test_size="0")
DATA_DEFAULTS = dict(layers=None, hidden="relu", output=None, init="he", epochs=20,
                     batch_size=64, lr=None, optimizer="adam", seed=0, test_size="0.2")

#: file name suffix -> default separator (None: sniffed)
TABLE_SUFFIXES = {".csv": None, ".tsv": "\t", ".tab": "\t", ".txt": None}
PARQUET_SUFFIXES = (".parquet", ".pq")
DATA_HELP = ("a .csv or .tsv table (.txt: sniffed) with a header row, also compressed "
             "(.csv.gz, .tsv.bz2, .csv.xz, or a .zip holding one table), a .parquet file "
             "or a .npz (arrays X and y)")
#: fastbp predict's --data: new data needs no labels
PREDICT_DATA_HELP = DATA_HELP.replace("(arrays X and y)", "(array X, and y to score the "
                                      "predictions; X with the model's number of features)")
#: first-row fields read as missing when sniffing a header (pandas' usual NA spellings)
_NA_STRINGS = {"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan"}

USAGE, DATA = 2, 1


class CLIError(Exception):
    """A user error: printed as ``fastbp: error: ...``; exit status 2 (usage) or 1 (data)."""

    #: quoted by other ranks as its message alone (fastbp.distributed._describe_exc)
    _fastbp_plain = True

    def __init__(self, message, status=USAGE):
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def _reported(status):
    """Turn the ValueError/TypeError of a check into a CLIError of the given status."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc), status) from None


# ------------------------------------------------------------------ tables

class Table:
    """A data file as named 1-D columns.

    Attributes
    ----------
    source : str
        The file name, for messages.
    names : list of str
    columns : list of ndarray (m,)
        int64 or float64 (NaN where missing) for numeric columns, object
        (str or None) otherwise.
    missing : list of ndarray of bool (m,)
    lines : ndarray of int (m,), or a callable returning it
        Where each row is in the file (``row_word`` says "line" or "row"). A
        callable (a CSV's line numbers cost a pass over the file) is called
        the first time a message names a row; ``m`` is then given.
    notes : list of str
        What the reader decided (header, index column, separator).
    index : tuple or None
        The row index column set aside (not in ``names``): (its position in
        the file's columns, name, column, missing).
    """

    def __init__(self, source, names, columns, missing, lines, row_word="line", m=None):
        self.source, self.names, self.columns = source, list(names), list(columns)
        self.missing, self.row_word = list(missing), row_word
        self._lines = lines if callable(lines) else np.asarray(lines)
        self.m = len(self._lines) if m is None else m
        self.notes = []
        self.index = None
        self.index_note = None       # the note in ``notes`` that says why (``_drop_index``)
        self.raw_text = None         # () -> DataFrame of the file's cells as text (CSV only)
        self.raw_column = None       # (j) -> Series: the text of the file's column j (CSV only)
        self.spool = None            # a pipe's bytes in a temporary directory (_read_table)
        # how columns are found: "header" (by name), "no header" (a CSV without a
        # header row: named by position) or "npz" (x0, x1, ...: positions too);
        # width: the file's number of columns (an .npz: X's) when by position
        self.layout, self.width = "header", None
        self.by_rows = True          # an .npz: its X held one example per row

    def file_columns(self):
        """(names, columns, missing) of every column of the file, the index included."""
        names, cols, miss = list(self.names), list(self.columns), list(self.missing)
        if self.index is not None:
            j, name, col, m = self.index
            names.insert(j, name)
            cols.insert(j, col)
            miss.insert(j, m)
        return names, cols, miss

    @property
    def lines(self):
        if callable(self._lines):
            self._lines = np.asarray(self._lines())
        return self._lines

    def where(self, rows):
        """Row labels for messages (``line 7`` or ``row 7``), a sequence made
        label by label as a message reads it."""
        return _RowLabels(self, rows)


class _RowLabels(collections.abc.Sequence):
    """The labels (``line 7``) of some rows of a Table, each formatted when read:
    the checks take every row's labels and read only the bad rows'."""

    __slots__ = ("_table", "_rows")

    def __init__(self, table, rows):
        self._table, self._rows = table, rows

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return f"{self._table.row_word} {self._table.lines[self._rows[i]]}"


def _import_pandas(what):
    try:
        import pandas
    except ImportError:
        raise CLIError(f"reading {what} needs pandas: pip install \"fastbp[data]\"",
                       DATA) from None
    return pandas


def _is_number(text, decimal, thousands=None):
    if thousands:
        text = text.replace(thousands, "")
    try:
        float(text.replace(decimal, ".") if decimal != "." else text)
    except ValueError:
        return False
    return True


def _after_comments(lines):
    """The (non-blank) lines without the '# ...' lines at their top, if any is
    left: a comment's spaces made the separator sniffed whitespace."""
    k = 0
    while k < len(lines) and lines[k].lstrip().startswith("#"):
        k += 1
    return lines[k:] if k < len(lines) else lines


def _sample_lines(lines, cut):
    """The first 20 of the sample's non-blank ``lines``, less a last one the
    sample ``cut`` (it did not end with a line break)."""
    lines = lines[:20]
    if len(lines) > 1 and cut:
        lines = lines[:-1]                       # the last line may be cut off
    return lines


def _data_lines_end_with(lines, sep):
    """Whether every line but the first (the header) ends with ``sep`` and the
    first does not: an export that writes a separator after each row's last
    field but not after the names."""
    return (len(lines) > 1 and not lines[0].rstrip().endswith(sep)
            and all(ln.rstrip().endswith(sep) for ln in lines[1:]))


def _sniff_sep(lines):
    """The separator (',', ';', tab or '|') that splits the sampled ``lines`` (from
    `_sample_lines`) most consistently."""
    best, best_n = None, 1
    for sep in (",", ";", "\t", "|"):
        # data lines ending with the separator the header lacks still count as
        # split by it (their error then says so): spaces in the names ('sepal
        # length') made the guess whitespace, and the error named odd columns
        # (only when the lines do not split evenly as they are: a last column
        # empty in every sampled row ends the data lines with it too)
        counts = {len(row) for row in csv.reader(lines, delimiter=sep)}
        if len(counts) > 1 and _data_lines_end_with(lines, sep):
            rows = [lines[0]] + [ln.rstrip()[:-1] for ln in lines[1:]]
            counts = {len(row) for row in csv.reader(rows, delimiter=sep)}
        if len(counts) == 1 and counts.pop() > best_n:
            best, best_n = sep, len(next(csv.reader(lines[:1], delimiter=sep)))
    if best is None and lines and len(lines[0].split()) > 1:
        return r"\s+"
    return best or ","


def _has_header(rows, decimal, thousands=None):
    """Whether the first of the sampled rows (lists of str) is a header row.

    Yes if a column's first field is text over numbers (csv.Sniffer's vote),
    or every field is text; yes too for a numeric row of consecutive whole
    numbers from 0 or 1 (the integer column names pandas' ``to_csv`` writes,
    the first field possibly empty: the index's), and for a row whose text
    field over a text column is one of the target names (``target``, ``y``,
    ...: :data:`_validation.TARGET_NAMES`) found nowhere below it (names of
    numbers over number features, and a text label column).
    """
    first, rest = rows[0], rows[1:]

    def blank(s):
        return s.strip().lower() in _NA_STRINGS

    fields = [s.strip() for s in first]
    numeric = [_is_number(s, decimal, thousands) for s in fields]
    if all(n or blank(s) for s, n in zip(fields, numeric)):
        vals = [float(s) for s, b in zip(fields, numeric) if b]
        start = 1 if fields and blank(fields[0]) else 0
        return (len(vals) >= 2 and all(blank(s) == (i < start) for i, s in enumerate(fields))
                and all(v == int(v) for v in vals) and vals[0] in (0.0, 1.0)
                and vals == [vals[0] + i for i in range(len(vals))])
    if not rest or not any(numeric):
        return True
    for j, s in enumerate(fields):
        if numeric[j] or blank(s):
            continue
        below = [r[j].strip() for r in rest if j < len(r) and not blank(r[j])]
        if below and all(_is_number(v, decimal, thousands) for v in below):
            return True
        if (s.lower() in _validation.TARGET_NAMES
                and s.lower() not in {v.lower() for v in below}):
            return True
    return False


def _read_table(path, args, option="--data", n_inputs=None, npz_rows=True):
    """The :class:`Table` in ``path`` (CSV/TSV/Parquet through pandas, or ``.npz``);
    a named pipe called like one (``mkfifo x.csv``) is read too. ``n_inputs``
    (fastbp predict: the model's number of features): an ``.npz`` needs no ``y``,
    and without one its X's layout is the one with ``n_inputs`` features.
    ``npz_rows``: how to read a square X (one example per row, or per column
    when the model's training X had its examples as columns)."""
    with _reported(USAGE):
        _validation.check_input_file(option, path, (".npz", ".zip") + PARQUET_SUFFIXES
                                     + tuple(TABLE_SUFFIXES), DATA_HELP,
                                     compressible=tuple(TABLE_SUFFIXES), streams=True)
    if os.path.isfile(path):
        return _read_table_file(path, path, args, n_inputs, npz_rows)
    # a pipe gives its bytes once: they go to a file of the same name, which the
    # readers below open several times (predict --keep reads it again later)
    spool = tempfile.TemporaryDirectory(prefix="fastbp-pipe-")
    try:
        copy = os.path.join(spool.name, os.path.basename(path))
        try:
            with open(path, "rb") as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            raise CLIError(f"cannot read {path!r}: {exc.strerror or exc}", DATA) from None
        table = _read_table_file(copy, path, args, n_inputs, npz_rows)
    except BaseException:
        spool.cleanup()
        raise
    table.spool = spool            # removed with the table
    return table


def _read_table_file(path, name, args, n_inputs=None, npz_rows=True):
    """:func:`_read_table` of the regular file ``path``, called ``name`` in messages."""
    suffix, compression = _validation.file_suffix(path, tuple(TABLE_SUFFIXES))
    if suffix == ".zip" and compression is None:
        # data.zip: pandas reads the one file it holds; its separator is sniffed
        suffix, compression = ".txt", ".zip"
    if suffix == ".npz":
        return _npz_table(path, name, n_inputs, npz_rows)
    if suffix in PARQUET_SUFFIXES:
        pd = _import_pandas("Parquet")
        try:
            df = pd.read_parquet(path)
        except ImportError:
            raise CLIError("reading Parquet needs pyarrow: pip install pyarrow", DATA) from None
        except Exception as exc:    # pyarrow raises its own error types
            raise CLIError(f"cannot read {name!r} as Parquet: {_parser_message(exc)}",
                           DATA) from None
        table = _frame_table(pd, df, os.path.basename(name), np.arange(1, len(df) + 1), "row")
        return _drop_index(table, args, header=True)
    pd = _import_pandas("CSV")
    try:
        with _open_text(path, compression) as f:
            sample = f.read(1 << 16)
            whole = not f.read(1)
    except UnicodeDecodeError:
        raise CLIError(_validation.not_utf8_message(
            name, path if compression is None else None), DATA) from None
    except OSError as exc:
        raise CLIError(f"cannot read {name!r}: {exc.strerror or exc}", DATA) from None
    except (EOFError, zipfile.BadZipFile, ValueError) as exc:   # a broken archive
        raise CLIError(f"cannot read {name!r} as {compression}: {_one_line(exc)}",
                       DATA) from None
    if not sample.strip():
        raise CLIError(f"{name!r} is empty", DATA)
    if not whole:
        sample = sample[:sample.rfind("\n") + 1] or sample
    # the sample's lines, split once: the separator's guess, the header's and
    # the parser's messages read them
    nonblank = [ln for ln in sample.splitlines() if ln.strip()]
    cut = not sample.endswith(("\n", "\r"))
    head = _sample_lines(nonblank, cut)
    sep = (_sep_option(args.sep) if args.sep else TABLE_SUFFIXES[suffix]
           or _sniff_sep(_sample_lines(_after_comments(nonblank), cut)))
    # pandas' C parser reads bytes: a --thousands or --decimal outside ASCII
    # (French Excel's no-break space) was accepted and matched nothing
    engine = ("python" if len(sep) > 1 or not (args.thousands or "").isascii()
              or not args.decimal.isascii() else "c")
    if args.thousands and args.thousands == args.decimal:
        raise CLIError(f"--thousands and --decimal are both {args.decimal!r}: a number "
                       "needs two different characters (e.g. --decimal , --thousands .)", USAGE)
    opts = dict(sep=sep, decimal=args.decimal, engine=engine, skip_blank_lines=True)
    if args.thousands:
        opts["thousands"] = args.thousands
    if engine == "c":
        opts["skipinitialspace"] = True
        if _pandas_major(pd) < 3:
            # pandas 2's default C float parser is off by one ulp on about a fifth
            # of to_csv's shortest-repr doubles (2.3.3: 20991 of 100000 normal
            # draws); 3.0 parses them exactly and deprecates the option
            opts["float_precision"] = "round_trip"
    header, table_note = args.header, None
    names = _comment_header(nonblank, sep) if header == "infer" else None
    if names:
        header = "comment"
        table_note = ("the '# ...' first line (np.savetxt's header) read as the column "
                      "names")
    elif header == "infer":
        first = nonblank[0].strip()
        if first.lower().startswith("sep=") and len(first) <= 6:
            # Excel's directive: read as the header, it was pandas' 'Expected 1
            # fields in line 3, saw 2'
            raise CLIError(f"{name!r} starts with Excel's {first!r} line: delete it (fastbp "
                           "finds the separator by itself)", DATA)
        if first.startswith("#"):
            # pandas read the comment as the header: a parser error about a
            # multi-char delimiter, or the data's first columns taken for its index
            shown = first if len(first) <= 40 else first[:37] + "..."
            raise CLIError(f"{name!r} starts with a comment line ({shown!r}): delete the "
                           "'#' lines at the top (a '# ...' first line is read only as "
                           "np.savetxt's header, naming every column)", DATA)
        try:
            rows = pd.read_csv(io.StringIO(sample), header=None, dtype=str,
                               keep_default_na=False, nrows=50, **opts)
        except Exception as exc:
            raise CLIError(f"cannot read {name!r}: {_parser_message(exc, head, sep)}",
                           DATA) from None
        row0 = rows.values.tolist()[0] if len(rows) else []
        header = ("0" if _has_header(rows.values.tolist(), args.decimal, args.thousands)
                  else "none")
        numeric = [v for v in row0 if v.strip().lower() not in _NA_STRINGS]
        if header == "0" and numeric and all(_is_number(v, args.decimal, args.thousands)
                                             for v in numeric):
            table_note = (f"first row {','.join(row0[:3])},... read as column names "
                          "(pandas' to_csv of integer column names); --header none if it "
                          "is data")
    if names:
        read = dict(header=None, skiprows=1, names=names)
    else:
        read = dict(header=0 if header == "0" else None)
    try:
        if header == "0":
            # pandas renames a repeated name ("label", "label.1"): a duplicated
            # target then became a feature (100% accuracy on random labels)
            head = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                               encoding="utf-8-sig", **opts)
            _check_unique_names([str(v) for v in head.iloc[0].tolist()], name)
        elif names:
            _check_unique_names(names, name)
        df = pd.read_csv(path, encoding="utf-8-sig", **read, **opts)
    except UnicodeDecodeError:     # past the sample read above
        raise CLIError(_validation.not_utf8_message(
            name, path if compression is None else None), DATA) from None
    except CLIError:
        raise
    except Exception as exc:       # pandas' ParserError, EmptyDataError, ValueError, ...
        raise CLIError(f"cannot read {name!r}: {_parser_message(exc, head, sep)}",
                           DATA) from None
    skip = 0 if header == "none" else 1
    m = len(df)

    def lines():
        return _record_lines(path, compression, sep, skip, m)
    # lines that end with a separator (a common export) give an unnamed last
    # column without a value: it was a "missing values" error in every row, to
    # be fixed with --drop 'Unnamed: 3', a name the file does not show
    empty = 0
    while (df.shape[1] - empty > 2 and df.iloc[:, -1 - empty].isna().all()
           and (header == "none" or _validation.is_pandas_placeholder(df.columns[-1 - empty]))):
        empty += 1
    if empty:
        df = df.iloc[:, :-empty]
    table = _frame_table(pd, df, os.path.basename(name), lines, m=m)
    if empty:
        table.notes.append("the lines end with a separator: the last column, with no name "
                           "and no values, is not read" if empty == 1 else
                           f"the lines end with separators: the last {empty} columns, with no "
                           "names and no values, are not read")
    # the cells as the file spells them (predict --keep copies ids such as
    # 00501 or 12345678901234567891 unchanged), read again only when asked
    raw, width = [], df.shape[1]

    def raw_text():
        if not raw:
            raw.append(pd.read_csv(path, encoding="utf-8-sig", dtype=str,
                                   keep_default_na=False, **read, **opts).iloc[:, :width])
        return raw[0]
    table.raw_text = raw_text
    cells = {}

    def raw_column(j):
        if raw:
            return raw[0].iloc[:, j]
        if j not in cells:
            cells[j] = pd.read_csv(path, encoding="utf-8-sig", dtype=str,
                                   keep_default_na=False, usecols=[j], **read,
                                   **opts).iloc[:, 0]
        return cells[j]
    table.raw_column = raw_column
    if table_note:
        table.notes.append(table_note)
    if sep != ",":
        table.notes.append("separator " + {"\t": "tab", r"\s+": "whitespace"}.get(sep, repr(sep)))
    if header == "none":
        table.notes.append("no header row: columns named by position 0, 1, ... (--header 0 "
                           "if the first row holds the names)")
        table.layout, table.width = "no header", df.shape[1]
    return _drop_index(table, args, header=header != "none")


def _record_lines(path, compression, sep, skip, m):
    """The line (from 1) of the file where each of its ``m`` data rows starts,
    after ``skip`` header rows. pandas skips blank lines and reads a quoted
    field over several lines: the row after one is not on line ``row + 2``
    (a missing value was placed on the line before its own). The file is
    parsed again only when it has more lines than rows."""
    plain = skip + 1 + np.arange(m)
    with _open_text(path, compression) as f:
        n = sum(chunk.count("\n") for chunk in iter(lambda: f.read(1 << 20), ""))
    if n <= skip + m:
        return plain
    starts, end = [], 0
    with _open_text(path, compression) as f:
        if len(sep) == 1:
            reader = csv.reader(f, delimiter=sep, skipinitialspace=True)
            for record in reader:
                start, end = end + 1, reader.line_num
                if any(field.strip() for field in record):
                    starts.append(start)
        else:                        # a regular expression (whitespace): no quoting
            starts = [i for i, ln in enumerate(f, 1) if ln.strip()]
    starts = starts[skip:]
    return np.asarray(starts) if len(starts) == m else plain


def _check_unique_names(names, path):
    """CLIError for column names that appear more than once in the header."""
    seen = {}
    for j, n in enumerate(names):
        seen.setdefault(n, []).append(j)
    dups = {n: js for n, js in seen.items() if len(js) > 1 and n.strip()}
    if dups:
        what = "; ".join(f"{n!r} (columns {', '.join(str(j) for j in js)})"
                         for n, js in list(dups.items())[:5])
        raise CLIError(f"{path!r}: column names appear more than once: {what}. Rename them "
                       "(a repeated target would be read as a feature)", DATA)


def _open_text(path, compression):
    """The file as UTF-8 text (a BOM skipped), decompressed as pandas' read_csv does
    for its suffix (a .zip holds one file)."""
    if compression is None:
        return open(path, encoding="utf-8-sig", newline="")
    if compression == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise ValueError(f"the archive holds {len(names)} files; pandas reads a "
                                 ".zip of one file")
            raw = z.open(names[0])     # stays readable after the archive is closed
    else:
        raw = _open_compressed(path, compression, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _stdout_to_devnull():
    """Send what is still to be printed nowhere: the reader of the pipe has gone
    (``fastbp ... | head``), and a later flush must not raise again."""
    _to_devnull(sys.stdout.fileno())


def _to_devnull(fd):
    """Point the descriptor ``fd`` at /dev/null. The descriptor opened for it
    is closed again: left open, each in-process run whose reader had left
    (``main()`` called from Python) kept one more descriptor."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def _open_compressed(path, compression, mode):
    """The binary stream of a .gz, .bz2 or .xz file, as pandas reads them."""
    import bz2
    import gzip
    import lzma
    return {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}[compression](path, mode)


#: --out names whose format fastbp does not write (it writes CSV, tab-separated
#: for the names TABLE_SUFFIXES reads so, compressed for .gz/.bz2/.xz): refused
#: rather than CSV text under that name
_OUT_REFUSED = (".zip", ".zst", ".parquet", ".pq", ".npz", ".npy", ".xlsx", ".xls",
                ".json", ".feather", ".arrow", ".pkl", ".pickle", ".h5", ".hdf5")


def _out_format(path):
    """(separator, compression or None) of a --out file, read off its name as
    --data reads a table's; ValueError for a format fastbp does not write."""
    suffix, compression = _validation.file_suffix(path, tuple(TABLE_SUFFIXES))
    if compression is None and suffix in (".gz", ".bz2", ".xz"):   # 'p.gz', 'p.out.gz'
        suffix, compression = os.path.splitext(os.path.splitext(str(path))[0])[1], suffix
    if compression == ".zip" or suffix.lower() in _OUT_REFUSED:
        raise ValueError(f"--out {str(path)!r}: fastbp writes the predictions as CSV "
                         "(.csv, or .tsv for tabs), compressed for a .gz, .bz2 or .xz "
                         f"name; not {compression if compression == '.zip' else suffix}")
    return TABLE_SUFFIXES.get(suffix.lower()) or ",", compression


def _open_out(path, compression):
    """``path`` opened to write UTF-8 text, compressed with ``compression``."""
    if compression is None:
        return open(path, "w", encoding="utf-8", newline="")
    return io.TextIOWrapper(_open_compressed(path, compression, "wb"), encoding="utf-8",
                            newline="")


def _comment_header(lines, sep):
    """Column names of a first line ``# a b c`` (np.savetxt's ``header=``), if it names
    as many columns as the next line has (``lines``: the sample's non-blank lines);
    else None."""
    if len(lines) < 2 or not lines[0].startswith("#"):
        return None

    def fields(line):
        if sep == r"\s+":
            return line.split()
        return [f.strip() for f in next(csv.reader([line], delimiter=sep))]

    names = fields(lines[0].lstrip("#").strip())
    return names if len(names) == len(fields(lines[1])) and all(names) else None


def _sep_option(text):
    return {"tab": "\t", "\\t": "\t", "space": r"\s+", "whitespace": r"\s+"}.get(text, text)


def _parser_message(exc, lines=None, sep=None):
    """pandas' error as one line, with what probably caused a field-count error
    (``lines``: the sampled lines, from `_sample_lines`)."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    if "Expected" in text and "fields" in text:
        if (lines is not None and len(sep) == 1
                and _data_lines_end_with(lines, sep)):
            text += (f": every data line ends with a {sep!r} the header line does not have; "
                     f"delete the {sep!r} at the ends of the lines, or add one at the end "
                     "of the header line")
        else:
            text += " (a separator inside an unquoted field? --sep chooses the separator)"
    return text


def _frame_table(pd, df, source, lines, row_word="line", m=None):
    names, columns, missing = [], [], []
    for j in range(df.shape[1]):
        s = df.iloc[:, j]
        names.append(str(df.columns[j]))
        miss = s.isna().to_numpy()
        if pd.api.types.is_bool_dtype(s.dtype) and not miss.any():
            col = s.to_numpy(dtype=np.int64)
        elif pd.api.types.is_integer_dtype(s.dtype) and not miss.any():
            col = s.to_numpy(dtype=np.int64)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            col = s.to_numpy(dtype=np.float64, na_value=np.nan)
        elif not miss.all() and all(isinstance(v, (bool, np.bool_)) for v in s[~miss]):
            # True / False with empty cells: pandas reads an object column of bools;
            # 1 / 0 as without them (the text 'True' had been refused after --dropna)
            col = np.array([np.nan if b else float(v) for v, b in zip(s.tolist(), miss)])
        else:
            # stripped: skipinitialspace takes the spaces before a cell, not those
            # after it ("cat " was a class beside "cat"; predict scores the
            # stripped text, so a model's class "no " never matched its own file)
            col = np.array([None if b else str(v).strip() for v, b in zip(s.tolist(), miss)],
                           dtype=object)
        columns.append(col)
        missing.append(miss)
    return Table(source, names, columns, missing, lines, row_word, m)


#: a first column of one of these names (any case) holding distinct whole numbers is the
#: row index (``df.reset_index().to_csv(index=False)`` writes "index")
INDEX_NAMES = ("id", "index")


def _drop_index(table, args, header):
    """Set the row index column aside (``table.index``): ``--index-col``, or a first
    column that is one (see :func:`_index_note`).

    Also where every CSV, TSV or Parquet table passes: one with no rows stops here
    (an ``.npz`` with no examples stops in :func:`_validation.npz_layout`).
    """
    with _reported(DATA):
        _validation.check_has_rows(table.source, table.m)
    spec = args.index_col
    if spec == "none" or not table.names:
        return table
    if spec is not None:
        with _reported(USAGE):
            j = _validation.find_column(table.names, spec, "--index-col")
        why = (f"--index-col {shlex.quote(spec)}: column {table.names[j]!r} read as the row "
               "index")
    else:
        why = _index_note(table, header, getattr(args, "target", None))
        if why is None:
            return table
        j = 0
    table.index = (j, table.names.pop(j), table.columns.pop(j), table.missing.pop(j))
    table.notes.append(why)
    table.index_note = why
    return table


def _index_note(table, header, target):
    """Why the first column is the row index that ``df.to_csv()`` writes first, or None.

    It is, when it holds whole numbers without missing values and is either
    unnamed (pandas' default index: header "" or "Unnamed: 0"; its values may
    repeat, as pd.concat leaves them), or counts the rows (0..m-1 or 1..m in
    order, whatever its name: a default RangeIndex, named or not), or is
    named id/index with distinct
    values. Never the target (``--target``, or a column named like one), and
    a named column only when two more columns remain (a feature and the
    target): the x of ``x,y`` data sampled at 0, 1, 2, ... is a feature.
    """
    name, col, m = table.names[0], table.columns[0], table.m
    if (len(table.names) < 2 or col.dtype.kind not in "iuf" or table.missing[0].any()
            or not np.all(col == np.round(col))
            or (target is not None and target == name)
            or (target is None and name.strip().lower() in _validation.TARGET_NAMES)):
        return None
    distinct = len(np.unique(col)) == m
    keep = "--index-col none keeps it as a feature"
    if header and (name.startswith("Unnamed: 0") or not name):
        if distinct:
            return ("the unnamed first column holds row numbers: read as pandas' index, not "
                    f"a feature ({keep})")
        # pd.concat(...).to_csv() repeats index values; trained on as a feature, the
        # row numbers told the classes apart as the rows were ordered by class
        return ("the unnamed first column holds whole numbers, some repeated (the index of "
                f"joined frames): read as pandas' index, not a feature ({keep})")
    if len(table.names) < 3:
        return None
    if _counts_rows(col):
        return (f"the first column {name!r} counts the rows ({int(col[0])}..{int(col[-1])}): "
                f"read as the row index (as pandas' to_csv writes it), not a feature ({keep})")
    if header and name.strip().lower() in INDEX_NAMES and distinct:
        return (f"the first column {name!r} holds distinct whole numbers: read as the row "
                f"index (ids), not a feature ({keep})")
    return None


def _pandas_major(pd):
    try:
        return int(pd.__version__.split(".")[0])
    except ValueError:
        return 3


def _load_npz(path, name=None, n_inputs=None, rows=True):
    """(X (n_x, m), y (m,), by_rows, square note) of a ``.npz`` holding X in either
    layout and y; ``name``: the file's name in messages (default ``path``).
    ``n_inputs`` (predict): y may be absent (None), X's layout is then the one
    with ``n_inputs`` features. ``rows``: the layout of a square X (one example
    per row or not; :func:`_validation.npz_layout`); ``by_rows``: whether the
    file held one example per row; the note (or None) says that a square X
    was read so."""
    name = path if name is None else name
    try:
        with np.load(path, allow_pickle=False) as z:
            with _reported(DATA):
                xk, yk = _validation.check_npz_keys(set(z.files), name,
                                                    y_optional=n_inputs is not None)
            X = np.asarray(z[xk])
            y = None if yk is None else np.asarray(z[yk])
    except (OSError, ValueError, EOFError) as exc:
        if "allow_pickle=False" in str(exc):     # an object array: strings from a list
            raise CLIError(
                f"cannot read {name!r}: it holds an object array (text labels saved from a "
                "list or a pandas object column, which only pickle can load; fastbp does not "
                "load pickles): save them as a string array, e.g. np.savez(path, X=X, "
                "y=np.asarray(y).astype(str))", DATA) from None
        raise CLIError(f"cannot read {name!r}: {_one_line(exc)}", DATA) from None
    with _reported(DATA):
        Xc, y = _validation.npz_layout(X, y, name, n_inputs, rows)
    square = _validation.npz_is_ambiguous(X.shape, None if y is None else y.size, n_inputs)
    by_rows = rows if square else Xc.shape != X.shape
    note = _validation.npz_square_note(name, X.shape[0], rows) if square else None
    return Xc, y, by_rows, note


def _arrays_table(source, X, y, row_word="row", names=None):
    """A :class:`Table` of course-layout X (n_x, m) and labels y (m,) (None: none),
    target named 'y'."""
    names = list(names or [f"x{i}" for i in range(X.shape[0])]) + ["y"] * (y is not None)
    cols = [np.asarray(r) for r in X] + ([] if y is None else [np.asarray(y).reshape(-1)])
    missing = [np.isnan(c) if c.dtype.kind == "f" else np.zeros(c.shape, bool) for c in cols]
    return Table(source, names, cols, missing, np.arange(1, X.shape[1] + 1), row_word)


def _npz_table(path, name=None, n_inputs=None, rows=True):
    X, y, by_rows, note = _load_npz(path, name, n_inputs, rows)
    if y is not None and y.dtype.kind == "b":
        y = y.astype(np.int64)
    table = _arrays_table(os.path.basename(path if name is None else name), X, y)
    table.layout, table.width, table.by_rows = "npz", X.shape[0], by_rows
    if note:
        table.notes.append(note)
    return table


# ------------------------------------------------------------ preparation

class Prepared:
    """Features and target chosen from a table, checked, labels encoded."""


def _prepare(table, args, known_task=None):
    """Target and feature columns of ``table``, checked; labels encoded (see ``Prepared``).

    ``known_task`` (the built-in data's) skips the inference, and its import
    of scikit-learn.
    """
    with _reported(USAGE):
        labels = [table.columns[0]] if table.columns else []
        if table.index is not None:
            labels.append(table.index[2])
        t = _validation.find_target(table.names, _file_position(table, args.target, "--target"),
                                    None if table.index is None else table.index[1], labels)
        drop = {_validation.find_column(table.names, _file_position(table, d, "--drop"),
                                        "--drop") for d in args.drop or ()}
    target = table.names[t]
    note = _name_over_position_note(table, args.target, t)
    if note:
        table.notes.append(note)
    feats = [j for j in range(len(table.names)) if j != t and j not in drop]
    with _reported(USAGE if t in drop else DATA):
        _validation.check_features_left(table.source, target, len(feats),
                                        {table.names[j] for j in drop})
    names = [table.names[j] for j in feats]
    if args.task != "regression" and not known_task and table.columns[t].dtype == object:
        note = _text_target(table, target, _raw_column(table, target))
        if note:
            table.notes.append(note)
    missing = np.column_stack([table.missing[j] for j in feats + [t]])
    keep = None
    if args.dropna and missing.any():
        keep = ~missing.any(axis=1)
        with _reported(DATA):
            _validation.check_rows_left(table.source, int(keep.sum()))
        table.notes.append(f"--dropna dropped {int((~keep).sum())} of {table.m} rows with "
                           "missing values")
    with _reported(DATA):
        if keep is None:
            _validation.check_no_missing(names + [target], missing,
                                         table.where(range(table.m)), target=target)
        cols = [table.columns[j] if keep is None else table.columns[j][keep] for j in feats]
        _validation.check_numeric_features(names, cols, args.decimal, args.thousands)
        X = np.column_stack(cols).astype(np.float64)
        table.notes += _row_number_notes(names, X)
        # the first column too: one named like an id but not "id" / "index" (the
        # row index rules) was trained on without the note a later column gets
        table.notes += _id_notes(names, X)
        lines = table.where(np.flatnonzero(keep) if keep is not None else range(table.m))
        _validation.check_finite_features(names, X, lines)
        y = table.columns[t] if keep is None else table.columns[t][keep]
        _validation.check_finite_target(target, y, lines)
        # --output exp (Poisson) is a regression of counts, which type_of_target
        # would often call classes
        poisson = args.output == "exp" and not args.task and not known_task
        read = (args.decimal, args.thousands)       # what a text target may need
        task = args.task or known_task or ("regression" if poisson
                                           else _validation.infer_task(y, target, None, *read))
        if args.task:
            _validation.infer_task(y, target, args.task, *read)      # checks --task against y
        if args.output == "exp" and task == "regression":
            y = _validation.check_count_target(y, target)
    p = Prepared()
    p.X, p.names, p.target, p.task = X, names, target, task
    p.task_source = ("--task" if args.task else "the built-in data" if known_task
                     else "--output exp" if poisson else "inferred; --task to override")
    if task == "classification":
        y = _file_labels(table, target, y, keep, args.decimal, args.thousands)
        if (y.dtype.kind == "f" and y.size and np.all(y == np.round(y))
                and np.abs(y).max() < 2**53):
            # whole numbers are integer classes (0, 1, ... not 0.0, 1.0), whether the
            # file wrote them so or pandas made them float (a column with empty cells)
            y = y.astype(np.int64)
        classes, yi = np.unique(y if y.dtype.kind != "O" else y.astype(str), return_inverse=True)
        with _reported(DATA):
            _validation.check_classes(classes, target)
        p.classes, p.y = classes, yi.reshape(-1).astype(np.int64)
    else:
        p.classes, p.y = None, y.astype(np.float64)
    return p


def _name_over_position_note(table, spec, t):
    """A note when ``--target spec`` named a column (the ``t``-th) whose name is a
    number that, read as a position, is another column: the name won."""
    if spec is None or spec not in table.names:
        return None
    try:
        pos = int(spec)
    except ValueError:
        return None
    if not 0 <= pos < len(table.names) + (table.index is not None):
        return None
    j = _column_at(table, pos)
    if j is None or j == t:
        return None
    return (f"--target {spec}: the column named {spec!r} (a name comes before a position; "
            f"position {pos} is the column {table.names[j]!r}, --target "
            f"{shlex.quote(str(table.names[j]))} picks that one)")


def _file_position(table, spec, option):
    """``spec`` (a column name, or a position counted over the file's columns,
    the row index included, as predict's ``--keep``) as ``find_column`` reads it
    in ``table.names``, which leaves a column read as the row index out."""
    if spec is None or table.index is None or spec in table.names:
        return spec
    try:
        pos = int(spec)
    except ValueError:
        return spec
    name = table.index[1]
    n = len(table.names) + 1
    if not -n <= pos < n:
        raise ValueError(f"{option} {spec}: the file has {n} columns (positions 0..{n - 1}, "
                         f"the row index {name!r} included, or -1 for the last)")
    j = _column_at(table, pos % n)
    if j is None:
        raise ValueError(f"{option} {spec} is {name!r}, read as the row index; "
                         "--index-col none keeps it as a column")
    return str(j)


def _column_at(table, pos):
    """The index in ``table.names`` of the file's column at ``pos`` (0 <= pos <
    the file's number of columns, a row index column included), or None for
    the row index column itself."""
    if table.index is None:
        return pos
    j = table.index[0]
    return None if pos == j else pos - (pos > j)


def _counts_rows(col):
    """Whether a column of more than 2 rows counts them, 0..m-1 or 1..m in order."""
    m = len(col)
    return m > 2 and (np.array_equal(col, np.arange(m)) or np.array_equal(col, np.arange(1, m + 1)))


def _row_number_notes(names, X):
    """Notes on feature columns that count the rows (0..m-1 or 1..m): ids, not features?"""
    return [_validation.row_number_note(name, int(X[0, j]), int(X[-1, j]))
            for j, name in enumerate(names) if _counts_rows(X[:, j])]


def _id_notes(names, X):
    """Notes on feature columns named like an id (``_validation.looks_like_id_name``)
    holding a different whole number in every row, other than the
    columns that count the rows (:func:`_row_number_notes` has a note on them).
    They are not dropped."""
    m = X.shape[0]
    notes = []
    for j, name in enumerate(names):
        col = X[:, j]
        if (m < 3 or not _validation.looks_like_id_name(name)
                or not np.all(col == np.round(col)) or len(np.unique(col)) != m
                or _counts_rows(col)):
            continue
        notes.append(_validation.id_column_note(name))
    return notes


def _apply_model_columns(table, prep, dropna=None, ignore=(), decimal=".", thousands=None):
    """(X (k, n) raw features in the model's order, rows) of ``table``.

    ``rows`` is None (every row) or, with ``dropna`` (fastbp predict's
    ``--dropna``), the bool mask (m,) of the rows without a missing feature,
    the only ones in X and the target; None for ``dropna`` means the command
    has no such option (train's ``--test-data``). ``ignore``: columns that
    are neither features nor unexpected (``--keep``).
    """
    rows = None
    with _reported(DATA):
        pos = _validation.find_features(table.names, prep["features"], prep["target"], ignore)
        names = prep["features"]
        miss = np.column_stack([table.missing[j] for j in pos])
        if dropna and miss.any():
            rows = ~miss.any(axis=1)
            _validation.check_rows_left(table.source, int(rows.sum()))
            bad = np.flatnonzero(~rows)
            table.notes.append(_validation.predict_dropna_note(table.where(bad), table.m))
        else:
            _validation.check_no_missing(names, miss, table.where(range(table.m)),
                                         dropna_hint=dropna is not None,
                                         predict=dropna is not None)
        cols = [table.columns[j] if rows is None else table.columns[j][rows] for j in pos]
        _validation.check_numeric_features(names, cols, decimal, thousands, model=True)
        X = np.column_stack(cols).astype(np.float64)
        _validation.check_finite_features(
            names, X, table.where(range(table.m) if rows is None else np.flatnonzero(rows)))
    return X, rows


def _layout_record(table):
    """The preprocessing entries saying how the training file's columns are found:
    its ``layout`` (Table.layout) and, found by position, its number of ``columns``
    (an .npz: of X), which a file given to the model must have too."""
    if table.layout == "header":
        return {"layout": "header"}
    if table.layout == "npz":      # and how its X was laid out, for a square one later
        return {"layout": "npz", "columns": int(table.width), "rows": table.by_rows}
    return {"layout": table.layout, "columns": int(table.width)}


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _npz_width(prep):
    """The number of features (columns of X) of an .npz given to the model."""
    return prep["columns"] if prep.get("layout") == "npz" else len(prep["features"])


def _check_layout(table, prep, option):
    """Stop (CLIError, DATA) when ``table``'s columns are named by position (no
    header row, an .npz) and so cannot line up with the model's: its training
    file had a header row, or none and another number of columns (but for the
    last column, the target's, left out); or the other way round. (A model
    saved without the record matches by name, as before.)"""
    trained, layout, src = prep.get("layout"), table.layout, table.source
    if trained is None or trained == layout == "header":
        return
    target = prep["target"]
    if trained == "header" and layout == "no header":
        shown = ", ".join(repr(f) for f in prep["features"][:3])
        raise CLIError(
            f"{option} {src!r} has no header row, but the model was trained on a file with "
            f"one: its columns are matched by name ({shown}, ...), so add the training "
            "file's header row (--header 0 if the first row holds the names)", DATA)
    if trained == "header":            # and an .npz, whose columns have no names
        shown = ", ".join(repr(f) for f in prep["features"][:3])
        raise CLIError(
            f"{option} {src!r} is an .npz, whose columns are matched by position (x0, x1, "
            "...), but the model was trained on a file with a header row: its columns are "
            f"matched by name ({shown}, ...), so give a table with the training file's "
            "header row", DATA)
    if trained == "no header" and layout == "header":
        raise CLIError(
            f"{option} {src!r} has a header row, but the model was trained on a file without "
            f"one ({prep['columns']} columns, the target {target!r} at position "
            f"{target}), whose columns are matched by position: give it the training file's "
            "column layout without a header row (--header none if its first row is data), "
            "or retrain on a file with a header row (a header on both)", DATA)
    if trained == "npz" != layout:     # a table: 'missing x0, x1, ...' it said
        raise CLIError(
            f"{option} {src!r} is a table, but the model was trained on an .npz, whose "
            f"columns are matched by position (x0, x1, ...: {prep['columns']} features), not "
            "by name: give an .npz whose X holds the training X's columns in the same order "
            "(np.savez(path, X=X))", DATA)
    # the file without the target's column lines up when that was the last one
    # (new data of a label-last file)
    unlabelled = table.width == prep["columns"] - 1 == _int_or_none(target)
    if trained == layout == "no header" and table.width != prep["columns"] and not unlabelled:
        raise CLIError(
            f"{option} {src!r} has {table.width} columns and no header row, but the model "
            f"was trained on a file of {prep['columns']} (the target {target!r} at position "
            f"{target}): without a header columns are matched by position, so give it the "
            "training file's columns in the same order (the target's may be empty), or a "
            "header row to both files", DATA)
    if trained == layout == "npz" and table.width != prep["columns"]:
        raise CLIError(
            f"{option} {src!r}: X has {table.width} feature columns, but the model was "
            f"trained on an .npz whose X had {prep['columns']}: an .npz's columns are matched "
            "by position (x0, x1, ...), so give X the training file's columns in the same "
            "order", DATA)


def _text_classes(prep):
    """Whether a model's classes are text (scored against the file's spelling)."""
    return (prep["task"] == "classification"
            and np.asarray(prep["classes"]).dtype.kind in "UO")


def _raw_column(table, name):
    """The cells (m,) of column ``name`` as the file spells them (str, stripped;
    '' where empty), or None: not a CSV file, or no such column."""
    if table.raw_column is None:
        return None
    names = table.file_columns()[0]
    if name not in names:
        return None
    cells = table.raw_column(names.index(name))
    if len(cells) != table.m:
        return None
    return np.array([v.strip() for v in cells.tolist()], dtype=object)


def _text_target(table, target, raw):
    """Keep the cells of a text ``target`` column (class labels) that pandas
    reads as missing (None, NA, null, n/a, ...) as the labels they spell,
    in place: in a column of names such a cell is a class (a severity
    'None', a region 'NA'), and only an empty cell is missing. A column of
    numbers is left alone (NA there is missing). ``raw``: the column's
    cells as the file spells them (_raw_column), or None. The note, or None."""
    j = table.names.index(target)
    col, miss = table.columns[j], table.missing[j]
    if raw is None or col.dtype != object or not miss.any():
        return None
    named = miss & (raw != "")
    if not named.any():
        return None
    col = col.copy()
    col[named] = raw[named]
    table.columns[j], table.missing[j] = col, miss & ~named
    texts = sorted(set(raw[named]))
    return (f"{int(named.sum())} cell(s) of {target!r} hold "
            f"{', '.join(repr(t) for t in texts[:4])}{', ...' if len(texts) > 4 else ''}: "
            "class labels here (in a column of names only an empty cell is missing)")


def _file_labels(table, target, y, rows=None, decimal=".", thousands=None):
    """Class labels ``y`` (the target column on the rows ``rows``, a bool mask or
    None: all) as the file spells them when pandas read as numbers labels
    that are not plain numbers there: True / False (read as 1 / 0), or codes
    with leading zeros (007, read as 7). The file's text then, so predictions
    are written as the file wrote its labels; else ``y`` itself (numbers,
    however written: 2.0, the way pandas writes a column with empty cells,
    is class 2)."""
    if y.dtype == object:
        return y
    raw = _raw_column(table, target)
    if raw is None:
        return y
    raw = raw if rows is None else raw[rows]
    for r in set(raw):
        digits = r.lstrip("+-")
        if not _is_number(r, decimal, thousands) or (
                len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()):
            return raw
    return y


def _target_values(table, target, rows=None, text=False):
    """(true values, mask) of the ``target`` column on the rows ``rows`` (a bool mask,
    None: every row): ``mask`` marks the rows that have a value, the values are
    theirs; (None, None) when the table has no such column. ``text``: class
    labels as the file spells them (a model whose classes are the file's
    text: _text_target, _file_labels)."""
    if target not in table.names:
        return None, None
    raw = _raw_column(table, target) if text else None
    _text_target(table, target, raw)
    j = table.names.index(target)
    col, miss = table.columns[j], table.missing[j]
    if raw is not None:
        col = np.where(miss, None, raw)
    if rows is not None:
        col, miss = col[rows], miss[rows]
    return col[~miss], ~miss


# ------------------------------------------------------------------ split

def _split(m, test_size, seed, y=None, labels=None):
    """(train, test) index arrays; stratified over the class codes ``y`` if given.

    ``labels[c]`` names class code ``c`` in messages.
    """
    n_test = math.ceil(test_size * m) if isinstance(test_size, float) else int(test_size)
    if n_test == 0:
        return np.arange(m), np.arange(0)
    with _reported(USAGE):
        _validation.check_split(n_test, m)
    rng = np.random.default_rng(seed)
    if y is None:
        test = rng.permutation(m)[:n_test]
    else:
        classes, counts = np.unique(y, return_counts=True)
        with _reported(DATA):
            _validation.check_stratifiable(labels[classes].tolist(), counts)
        with _reported(USAGE):
            _validation.check_stratified_split(n_test, m, len(classes))
        share = counts * n_test / m               # largest remainder, lo <= take <= count - 1
        take = np.floor(share).astype(int)
        for i in np.argsort(-(share - take), kind="stable")[:n_test - take.sum()]:
            take[i] += 1
        lo, hi = (1 if n_test >= len(classes) else 0), counts - 1
        take = np.clip(take, lo, hi)
        # the clip moved the total (40 rows of 21/19, --test-size 39 held out 38):
        # move the difference one example at a time to the classes nearest their share
        while take.sum() != n_test:
            if take.sum() < n_test:
                take[np.argmax(np.where(take < hi, share - take, -np.inf))] += 1
            else:
                take[np.argmin(np.where(take > lo, share - take, np.inf))] -= 1
        test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k]
                               for c, k in zip(classes, take)])
    test = np.sort(test)
    train = np.setdiff1d(np.arange(m), test)
    return train, test


# ---------------------------------------------------------------- scoring

def _predict(net, prep, X_raw):
    """Predictions (m,) in the target's units / labels for raw features (m, n)."""
    AL = net.predict_proba(_standardised(prep, X_raw, net.dtype, model=True)).astype(np.float64)
    if prep["task"] == "regression":
        return AL[0] * prep["y_scale"] + prep["y_mean"]
    idx = (AL[0] > 0.5).astype(np.int64) if AL.shape[0] == 1 else np.argmax(AL, axis=0)
    return np.asarray(prep["classes"], dtype=object)[idx]


def _same_label(pred, true, classes):
    """Elementwise pred == true for class labels (strings or numbers), compared
    as :func:`_label_keys` compares them for the model's ``classes`` (a cast of
    both sides to float had counted '7' right for a true '07')."""
    _, p, t = _label_keys(classes, pred, true)
    return np.array([a == b for a, b in zip(p, t)], dtype=bool)


def _mean_poisson_deviance(y, mu):
    """``2 mean(y log(y / mu) - y + mu)`` (0 log 0 = 0): scikit-learn's
    ``mean_poisson_deviance``, the score of a Poisson (``--output exp``) model."""
    pos = y > 0
    ylog = np.zeros_like(y)
    ylog[pos] = y[pos] * np.log(y[pos] / mu[pos])
    return float(2.0 * np.mean(ylog - y + mu))


def _regression_targets(y, target, table):
    """``y`` as float64 for a regression's score, or the CLIError (DATA) that
    names the text cells (a '$111.30' cell had failed inside the scoring)."""
    if y.dtype != object:
        return y.astype(np.float64)
    bad = _validation.not_numbers(y)[:3]
    if not len(bad):
        return y.astype(np.float64)
    return CLIError(f"{table.source}: the target column {target!r} holds text "
                    f"({', '.join(repr(b) for b in bad)}, ...) where this regression needs "
                    "numbers; write plain numbers there (no currency signs or thousands "
                    "separators), or leave the column out", DATA)


def _loss_text(loss):
    """A loss to 4 decimals, or 4 significant digits when that would print
    hundreds of digits (1e300) or nothing but zeros."""
    return f"{loss:.4f}" if 1e-3 <= abs(loss) < 1e6 or loss == 0 else f"{loss:.4g}"


def _score_line(task, pred, true, poisson=False, classes=None):
    if task == "regression":
        true = np.asarray(true, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.float64)
        # squares of targets of 1e-170 or 1e170 under- or overflow: score
        # them scaled by a power of two (exact; R^2 does not change, the
        # errors are scaled back)
        k = _validation.extreme_exponent(max(np.max(np.abs(true), initial=0.0),
                                             np.max(np.abs(pred), initial=0.0)))
        t, p = np.ldexp(true, -k), np.ldexp(pred, -k)
        err = p - t
        ss = np.sum((t - t.mean()) ** 2)
        # R^2 compares with the true values' spread: none (one example, or equal
        # values) was printed as 'R^2 nan'
        r2 = (f"{1 - np.sum(err ** 2) / ss:.4f}" if ss > 0
              else "n/a (the true values are all equal)")
        dev = (f"   Poisson deviance {_mean_poisson_deviance(true, pred):.4g}" if poisson
               else "")
        return (f"R^2 {r2}   RMSE {np.ldexp(np.sqrt(np.mean(err ** 2)), k):.4g}   "
                f"MAE {np.ldexp(np.mean(np.abs(err)), k):.4g}{dev}")
    return f"accuracy {np.mean(_same_label(pred, true, classes)):.2%}"


def _spelled_targets(table, target, rows=None):
    """The file's spelling (stripped text) of the values
    ``_target_values(table, target, rows)`` returns, in their order, or None
    (not a CSV file, or no such column)."""
    if target not in table.names:
        return None
    raw = _raw_column(table, target)
    if raw is None:
        return None
    miss = table.missing[table.names.index(target)]
    if rows is not None:
        raw, miss = raw[rows], miss[rows]
    return raw[~miss]


def _spelling_order(s):
    """Sort key of label spellings: numbers by value, then text ('7' before
    '10', '007' before '010')."""
    try:
        x = float(s)
    except (TypeError, ValueError):
        return (1, 0.0, str(s))
    return (0, x, str(s)) if math.isfinite(x) else (1, 0.0, str(s))


def _unknown_labels_note(classes, y, target, source, by_position=False, spelled=None):
    """The note for target values that are none of the model's classes (a
    score of 0% with no word of why, before), or None. ``by_position``: the
    file's columns are matched by position (no header row), and when no value
    at all is a class, the note asks whether they line up. ``spelled``: the
    file's text of each of ``y`` (_spelled_targets), which the note shows (a
    model with True/False classes read '007' as the number 7, and the note
    said 7)."""
    known, keys = _label_keys(classes, y)
    unknown = set(keys) - set(known)
    if not unknown:
        return None
    if spelled is not None and len(spelled) == len(keys):
        first = {}
        for k, text in zip(keys, spelled):
            if k in unknown:
                first.setdefault(k, str(text))
        unknown = sorted(first.values(), key=_spelling_order)
    else:
        unknown = sorted(unknown, key=_spelling_order)
    shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
    taught = ", ".join(str(c) for c in list(classes)[:10]) + (", ..." if len(classes) > 10
                                                                else "")
    if by_position and not set(keys) & set(known):
        return (f"{source}: no value of {target!r} ({shown}) is a class the model was "
                f"trained on (it knows {taught}): without a header row columns are "
                "matched by position, so the file may be laid out unlike the training file "
                f"(its target at position {target}); give it the same column layout, or a "
                "header row to both files")
    return (f"{source}: {len(unknown)} value(s) of {target!r} are not classes the model "
            f"was trained on ({shown}; it knows {taught}): their rows count as errors")


def _label_key(v):
    """A class label as text that equal numbers share (1, 1.0 and '1' give '1';
    0.5 stays '0.5'), as _label_keys compares them."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(x)) if x.is_integer() else repr(x)


def _label_keys(classes, *values):
    """The model's ``classes`` and each of ``values`` (label sequences) as the text
    by which labels compare: :func:`_label_key` (1, 1.0 and '1' are one class),
    or the text itself when two classes are equal as numbers ('007', '07' and
    '7' are three classes). The accuracy, the report and the unknown-label
    note all compare so."""
    keyed = [_label_key(c) for c in classes]
    key = _label_key if len(set(keyed)) == len(keyed) else str
    return [[key(v) for v in vals] for vals in (classes,) + values]


def _report(classes, pred, true, say):
    """Per-class precision / recall / F1 / support and the confusion matrix."""
    labels, p, t = _label_keys(classes, pred, true)
    k = len(labels)
    index = {c: i for i, c in enumerate(labels)}
    cm = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(t, p):
        if a in index:
            cm[index[a], index[b]] += 1
    w = max(5, max(len(c) for c in labels))
    say(f"{'class':>{w}}  precision  recall     f1  support")
    for i, c in enumerate(labels):
        tp, npred, ntrue = cm[i, i], cm[:, i].sum(), cm[i, :].sum()
        prec = tp / npred if npred else 0.0
        rec = tp / ntrue if ntrue else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        say(f"{c:>{w}}  {prec:9.3f}  {rec:6.3f}  {f1:5.3f}  {ntrue:7d}")
    if k <= 20:
        cw = max(len(c) for c in labels + [str(cm.max())]) + 1
        say("confusion matrix (rows: true class, columns: predicted)")
        say(" " * w + "".join(f"{c:>{cw}}" for c in labels))
        for i, c in enumerate(labels):
            say(f"{c:>{w}}" + "".join(f"{v:>{cw}}" for v in cm[i]))


# ---------------------------------------------------------------- train

#: seconds one timed block of the NumPy comparison runs, at least (_compare_speed)
MIN_BLOCK_SECS = 0.02


def _compare_speed(net, make_opt, X, Y, Y_dense, bs, budget):
    """Median per-epoch times of fastbp and plain NumPy, timed in interleaved blocks.

    Both sides run the same unshuffled mini-batches from the same initial
    parameters; each is warmed up first, then blocks of k epochs alternate
    (fastbp, NumPy, fastbp, ...) so that a change of machine load hits both.
    A block runs about ``MIN_BLOCK_SECS`` at least, whatever the budget:
    fastbp's block is one ``fit`` of k epochs, whose setup (argument checks,
    binding the optimizer: a few hundred microseconds) a block of one cheap
    epoch timed instead of the epoch (budget 0 on the planar data read 0.29
    ms/epoch against the fit loop's 0.07, "0.5x over plain NumPy").

    Returns
    -------
    (fastbp seconds/epoch, numpy seconds/epoch, (lowest, highest) ratio of a pair,
     number of pairs, epochs per block)
    """
    from fastbp._numpy_baseline import NumpyNetwork

    base = NumpyNetwork(net, make_opt())
    m = X.shape[1]
    batches = [(X[:, j:j + bs], Y_dense[:, j:j + bs]) for j in range(0, m, bs)]

    def run_numpy(k):
        t0 = time.perf_counter()
        for _ in range(k):
            for xb, yb in batches:
                base.step(xb, yb)
        return time.perf_counter() - t0

    def run_fastbp(k):
        opt = make_opt()
        t0 = time.perf_counter()
        net.fit(X, Y, epochs=k, batch_size=bs, optimizer=opt, shuffle=False, verbose=False)
        return time.perf_counter() - t0

    time.sleep(0.12)                      # let the other BLAS pool's threads settle
    one = run_fastbp(1) + run_numpy(1)    # warm-up: first calls, caches, BLAS threads
    if one < budget / 50:                 # cheap epochs: measure a pair properly
        one = run_fastbp(2) / 2 + run_numpy(2) / 2
    one = max(one, 1e-7)
    pairs = max(1, min(7, int(budget / one)))     # fewer pairs when epochs are slow
    k = max(1, int(max(budget / pairs, MIN_BLOCK_SECS) / one))
    f, n = [], []
    for _ in range(pairs):
        f.append(run_fastbp(k) / k)
        n.append(run_numpy(k) / k)
    ratios = np.array(n) / np.array(f)
    return float(np.median(f)), float(np.median(n)), (ratios.min(), ratios.max()), pairs, k


def _plot(path, net, prep, X_raw, y, history, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    two_d = X_raw.shape[1] == 2
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(11 if two_d else 6, 4.5))
    axes = np.atleast_1d(axes)
    if two_d:
        ax = axes[0]
        lo, hi = X_raw.min(axis=0), X_raw.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-9
        xx, yy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300),
                             np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300))
        grid = np.column_stack([xx.ravel(), yy.ravel()])
        zz = _predict(net, prep, grid)
        if prep["task"] == "classification":
            codes = {str(c): i for i, c in enumerate(prep["classes"])}
            zz = np.array([codes[str(v)] for v in zz], dtype=float)
            cy = np.array([codes.get(str(v), -1) for v in y], dtype=float)
        else:
            cy = np.asarray(y, dtype=float)
        ax.contourf(xx, yy, zz.reshape(xx.shape), cmap=plt.cm.Spectral, alpha=0.8)
        ax.scatter(X_raw[:, 0], X_raw[:, 1], c=cy, s=12, cmap=plt.cm.Spectral,
                   edgecolors="k", linewidths=0.3)
        what = "decision boundary" if prep["task"] == "classification" else "fitted surface"
        ax.set_title(f"{what}: {title}")
        ax.set_xlabel(prep["features"][0])
        ax.set_ylabel(prep["features"][1])
    ax = axes[-1]
    ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], label="training loss")
    if "val_loss" in history:
        ax.plot(np.arange(1, len(history["val_loss"]) + 1), history["val_loss"],
                label="held-out loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("loss curves")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_train(args):
    if not args.distributed:
        return _train(args, None)
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise CLIError("--distributed needs mpi4py: pip install 'fastbp[mpi]' (mpi4py and "
                       "the mpich wheel), then e.g. mpiexec -n 2 fastbp train --distributed "
                       f"({exc})") from None
    from fastbp.distributed import (SETUP_MISMATCH, RankFailedError, abort_on_error,
                                    check_launcher, is_collective_error, mark_collective)

    comm = MPI.COMM_WORLD
    try:
        # another MPI's mpiexec: one line, before anything is printed or read
        check_launcher(comm)
    except RuntimeError as exc:
        raise CLIError(str(exc), USAGE) from None
    # an error on one rank aborts every rank (never a hang); one that every
    # rank raised together is printed once, by rank 0
    with abort_on_error(comm):
        try:
            return _train(args, comm)
        except ValueError as exc:
            if not (is_collective_error(exc) and str(exc).startswith(SETUP_MISMATCH)):
                raise
            # fit's comparison of the ranks, in the CLI's terms
            detail = str(exc).partition("Differences: ")[2]
            err = mark_collective(CLIError(
                "the ranks read different data or options: every rank must read the same "
                f"--data (and --test-data) file and get the same options ({detail})", DATA))
            if comm.Get_rank() == 0:
                sys.stderr.write(f"fastbp: error: {err}\n")
            raise mark_collective(SystemExit(DATA)) from None
        except (CLIError, RankFailedError) as exc:
            if not is_collective_error(exc):
                raise
            # every rank is here: they exit with the failing ranks' status
            # (the others' RankFailedError has none; mpiexec ORed 2 and 1 to 3)
            status = comm.allreduce(getattr(exc, "status", 0), op=MPI.MAX) or DATA
            if comm.Get_rank() == 0:
                sys.stderr.write(f"fastbp: error: {exc}\n")
            raise mark_collective(SystemExit(status)) from None


def _check_train_options(args, rank):
    """Checks of the options alone, before any data is read or training starts."""
    with _reported(USAGE):
        if args.threads is not None:
            _validation.check_threads_option(args.threads)
        inputs = {"--data": args.data, "--test-data": args.test_data}
        # only rank 0 writes --save and --plot: on other machines their
        # directories need not exist (as for checkpoints)
        if args.save and rank == 0:
            _validation.check_output_path("--save", args.save)
            # the file written: checkpoint.save adds .npz (an .npz --data is a table too)
            written = (args.save if str(args.save).lower().endswith(".npz")
                       else f"{args.save}.npz")
            _validation.check_not_an_input("--save", written, inputs)
        if args.plot and rank == 0:
            _validation.check_output_path("--plot", args.plot,
                                          suffixes=(".png", ".pdf", ".svg", ".jpg"))
            _validation.check_not_an_input("--plot", args.plot, inputs)
        _validation.check_test_options(args.test_data, args.test_size)
        if args.output is not None and args.task is not None:
            # what the data cannot change: found before reading it
            _validation.check_cli_output(args.task, 2, args.output)
    if args.plot and rank == 0:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("--plot needs matplotlib: pip install matplotlib "
                           "(or pip install 'fastbp[plot]')") from None


def _load(args):
    """The :class:`Table` of ``--data``, or of the built-in planar data."""
    if args.data is None:
        from fastbp.datasets import load_planar_dataset
        X, Y = load_planar_dataset()
        table = _arrays_table("planar 'flower' data (course 1, week 3)", X, Y.reshape(-1),
                              names=["x1", "x2"])
        return table
    return _read_table(args.data, args)


def _constant_features_note(names, Xtr):
    """A note naming the features that hold one value on every training row (m,
    n_x): the network cannot learn from them, and a model trained so ignores
    what they hold later; None when there are none (or fewer than 2 rows)."""
    if Xtr.shape[0] < 2:
        return None
    const = np.flatnonzero(Xtr.min(axis=0) == Xtr.max(axis=0)).tolist()
    if not const:
        return None
    shown = ", ".join(f"{names[j]!r} ({Xtr[0, j]:g})" for j in const[:6])
    shown += f" and {len(const) - 6} more" if len(const) > 6 else ""
    drop = " ".join(f"--drop {shlex.quote(str(names[j]))}" for j in const[:3])
    return (f"{'a feature holds' if len(const) == 1 else f'{len(const)} features hold'} one "
            f"value on every training row: {shown}; the network cannot learn from "
            f"{'it' if len(const) == 1 else 'them'} ({drop}{' ...' if len(const) > 3 else ''} "
            f"leaves {'it' if len(const) == 1 else 'them'} out)")


def _fitted_preprocessing(p, train_idx, standardize, scale_target=True):
    """The ``preprocessing`` document: scaling fitted on the training rows only.

    A regression target is standardised too, unless ``scale_target`` is False
    (a Poisson target must reach the loss as the counts it is: mean 0, scale 1).
    """
    Xtr = p.X[train_idx]
    mean, scale = (_mean_std(Xtr) if standardize
                   else (np.zeros(Xtr.shape[1]), np.ones(Xtr.shape[1])))
    scale = np.where(scale > 0, scale, 1.0)
    prep = {"task": p.task, "target": p.target, "features": p.names,
            "mean": mean.tolist(), "scale": scale.tolist(),
            "classes": None if p.classes is None else p.classes.tolist()}
    if p.task == "regression":
        ytr = p.y[train_idx]
        y_mean, y_std = _mean_std(np.asarray(ytr, dtype=np.float64).reshape(-1, 1))
        prep["y_mean"] = float(y_mean[0]) if scale_target else 0.0
        prep["y_scale"] = (float(y_std[0]) or 1.0) if scale_target else 1.0
    return prep


def _mean_std(X):
    """Per-column mean and standard deviation of the (m, n) X, computed on
    X / 2^k with 2^k near each column's largest magnitude: the same bits as
    ``X.mean(0)``, ``X.std(0)`` wherever those do not overflow or underflow
    (a power of two scales exactly), and right for columns of 1e-170 or
    1e170, whose squares NumPy's std takes to 0 or inf (the feature became
    all zeros)."""
    k = _validation.extreme_exponent(np.max(np.abs(X), axis=0, initial=0.0))
    Xs = np.ldexp(X, -k)
    return np.ldexp(Xs.mean(axis=0), k), np.ldexp(Xs.std(axis=0), k)


def _standardised(prep, X_raw, dtype, model=False):
    """(n, m) network input of ``dtype`` from raw rows (m, n); a CLIError if a
    value lies beyond ``dtype``'s range (casting it made an inf)."""
    Xs = (X_raw - np.asarray(prep["mean"])) / np.asarray(prep["scale"])
    limit = np.finfo(dtype).max
    over = ~(np.abs(Xs) <= limit)
    if over.any():
        cols = np.flatnonzero(over.any(axis=0))
        j = cols[0]
        i = np.flatnonzero(over[:, j])[0]
        example = f"{X_raw[i, j]:g}"
        names = ", ".join(repr(prep["features"][c]) for c in cols[:5])
        more = f" and {cols.size - 5} more" if cols.size > 5 else ""
        name = np.dtype(dtype).name
        scaled = any(c != 1.0 for c in prep["scale"]) or any(c != 0.0 for c in prep["mean"])
        if model:
            fix = (f"the model computes in {name}: scale these features down"
                   + (", or retrain it with --dtype float64" if name != "float64" else ""))
        else:
            fix = ("pass --dtype float64" if name != "float64" else "scale these features down")
            if not scaled:
                fix += ", or let fastbp standardise the features (drop --no-standardize)"
        if scaled:
            example += f", {Xs[i, j]:g} standardised"
        raise CLIError(
            f"{int(over.sum())} value(s) of feature column(s) {names}{more} (e.g. {example}) "
            f"lie beyond {name}'s range (+-{limit:.3g})"
            f"{' after standardising' if scaled else ''}: {fix}", DATA)
    return np.ascontiguousarray(Xs.T, dtype=dtype)


def _encode(prep, X_raw, y, n_out, dtype):
    """(X (n, m), Y) for the network from raw rows and target values.

    Y is None when ``y`` holds a class the training data did not have.
    """
    Xn = _standardised(prep, X_raw, dtype)
    if prep["task"] == "regression":
        Y = (np.asarray(y, dtype=np.float64) - prep["y_mean"]) / prep["y_scale"]
        limit = np.finfo(dtype).max
        over = ~(np.abs(Y) <= limit)
        if over.any():
            name = np.dtype(dtype).name
            scaled = prep["y_scale"] != 1.0 or prep["y_mean"] != 0.0
            raise CLIError(
                f"{int(over.sum())} value(s) of the target {prep['target']!r} (e.g. "
                f"{np.asarray(y, dtype=np.float64)[np.flatnonzero(over)[0]]:g}) lie beyond "
                f"{name}'s range (+-{limit:.3g}){' after standardising' if scaled else ''}: "
                + ("pass --dtype float64" if name != "float64" else "scale the target down")
                + (", or scale the target down (a Poisson target is taken as it is)"
                   if not scaled and name != "float64" else ""), DATA)
        return Xn, Y.reshape(1, -1)
    index = {str(c): i for i, c in enumerate(prep["classes"])}
    codes = [index.get(str(v)) for v in y]
    if any(c is None for c in codes):
        return Xn, None
    codes = np.array(codes, dtype=np.int64)
    return Xn, (codes.reshape(1, -1).astype(np.uint8) if n_out == 1 else codes)


def _setup(args, d, seed):
    """Everything ``fastbp train`` needs before fitting, checked (raises CLIError)."""
    from fastbp.network import Network
    from fastbp.optim import get_optimizer

    planar = args.data is None
    r = argparse.Namespace()
    r.table = _load(args)
    r.p = p = _prepare(r.table, args, "classification" if planar else None)
    with _reported(USAGE):
        test_size = _validation.check_test_size(args.test_size or d["test_size"])
    if args.test_data:
        test_table = _read_table(args.test_data, args, "--test-data",
                                 npz_rows=r.table.by_rows)
        train_idx = np.arange(p.X.shape[0])
    else:
        train_idx, test_idx = _split(p.X.shape[0], test_size, seed,
                                     *((p.y, p.classes) if p.task == "classification" else ()))
    with _reported(USAGE):
        r.output, r.n_out = _validation.check_cli_output(
            p.task, None if p.classes is None else len(p.classes),
            args.output or (d["output"] if planar else None))
    r.prep = prep = _fitted_preprocessing(p, train_idx, not (planar or args.no_standardize),
                                          scale_target=r.output != "exp")
    prep.update(_layout_record(r.table))
    note = _constant_features_note(p.names, p.X[train_idx])
    if note:
        r.table.notes.append(note)
    labels = (lambda idx: p.classes[p.y[idx]]) if p.task == "classification" \
        else (lambda idx: p.y[idx])
    r.X_tr_raw, r.y_tr = p.X[train_idx], labels(train_idx)
    if args.test_data:
        _check_layout(test_table, prep, "--test-data")
        text = _text_classes(prep)
        _, labelled = _target_values(test_table, prep["target"], text=text)
        with _reported(DATA):
            _validation.check_test_target(args.test_data, p.target, labelled, args.dropna,
                                          test_table.where)
        X_te, rows = _apply_model_columns(test_table, prep, dropna=args.dropna or None,
                                          decimal=args.decimal, thousands=args.thousands)
        keep = labelled if rows is None else labelled & rows
        r.X_te_raw = X_te[keep if rows is None else keep[rows]]   # X_te: the rows kept
        r.y_te, _ = _target_values(test_table, prep["target"], keep, text=text)
        if prep["task"] == "regression":
            r.y_te = _regression_targets(r.y_te, prep["target"], test_table)
            if isinstance(r.y_te, CLIError):
                raise r.y_te
            with _reported(DATA):
                _validation.check_finite_target(
                    prep["target"], r.y_te, test_table.where(np.flatnonzero(keep)),
                    f"--test-data {args.test_data!r}: ")
        else:
            note = _unknown_labels_note(prep["classes"], r.y_te, prep["target"],
                                        test_table.source, test_table.layout == "no header",
                                        _spelled_targets(test_table, prep["target"], keep))
            if note:
                r.table.notes.append(note)
        if args.data is not None and os.path.samefile(args.data, args.test_data):
            r.table.notes.append("--test-data is the --data file: the 'test' scores are on "
                                 "the training examples (--test-size holds some out)")
        if not keep.all():
            left = int((~keep).sum())
            r.table.notes.append(_validation.test_dropna_note(
                args.test_data, left, test_table.m, test_table.where(np.flatnonzero(~keep))))
        with _reported(DATA):
            _validation.check_rows_left(test_table.source, int(keep.sum()))
            if r.output == "exp":
                r.y_te = _validation.check_count_target(r.y_te, p.target)
        r.split = f"(--test-data {shlex.quote(os.path.basename(args.test_data))})"
    else:
        r.X_te_raw, r.y_te = p.X[test_idx], labels(test_idx)
        strat = "stratified, " if p.task == "classification" else ""
        r.split = f"({strat}--test-size {args.test_size or d['test_size']}, --seed {seed})"
    r.desc = "regression" if p.task == "regression" else f"{len(p.classes)} classes"
    r.X, r.Y = _encode(prep, r.X_tr_raw, r.y_tr, r.n_out, args.dtype)
    r.Xte, r.Yte = (_encode(prep, r.X_te_raw, r.y_te, r.n_out, args.dtype) if len(r.y_te)
                    else (None, None))
    with _reported(USAGE):
        dims = [r.X.shape[0]] + _validation.parse_layers(args.layers or d["layers"]
                                                         or f"64,{r.n_out}", r.n_out)
    hidden = args.hidden or d["hidden"]
    r.hidden = hidden.split(",") if "," in hidden else hidden
    if isinstance(r.hidden, list) and len(r.hidden) != len(dims) - 2:
        # Network's error named its argument 'hidden', not the options
        raise CLIError(f"--hidden {hidden} names {len(r.hidden)} activations but --layers "
                       f"{','.join(map(str, dims[1:]))} has {len(dims) - 2} hidden layer(s): "
                       "give one activation, or one per hidden layer")
    r.m = r.X.shape[1]
    r.epochs = d["epochs"] if args.epochs is None else args.epochs
    r.bs = min(args.batch_size or d["batch_size"] or r.m, r.m)
    opt_name = args.optimizer or d["optimizer"]
    lr = args.lr if args.lr is not None else d["lr"]
    r.make_opt = lambda: get_optimizer(opt_name, lr)
    try:
        r.net = Network(dims, r.hidden, r.output, init=args.init or d["init"], seed=seed,
                        dtype=args.dtype, n_threads=args.threads)
        r.opt = r.make_opt()
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    return r


def _say_setup(r, threads, say):
    p = r.p
    nf = len(p.names)
    say(f"data     {r.table.source}: {_examples(p.X.shape[0])}, {nf} feature{'s' * (nf != 1)}, "
        f"{r.desc}")
    for note in r.table.notes:
        say(f"note     {note}")
    if p.task == "classification":
        shown = ", ".join(str(c) for c in p.classes[:10]) + (", ..." if len(p.classes) > 10
                                                             else "")
        what = f"classification of {p.target!r} into {shown}"
    elif r.output == "exp":
        what = (f"Poisson regression of {p.target!r} (counts or rates: exp output, Poisson "
                "deviance, trained unscaled)")
    else:
        what = f"regression of {p.target!r} (standardised for training, scored in its units)"
    say(f"task     {what} ({p.task_source})")
    if len(r.y_te):
        say(f"split    {r.m} train / {len(r.y_te)} test {r.split}")
    say(f"network  {r.net}")
    say(f"training {r.epochs} epochs, batch {r.bs}, {r.opt}, {threads}")


def _say_scores(r, args, say):
    net, p, prep = r.net, r.p, r.prep
    say(f"final    loss {_loss_text(r.final_loss)} (the training cost after {r.epochs} "
        "epochs)")
    poisson = net.output == "exp"
    train_pred = _predict(net, prep, r.X_tr_raw)
    say(f"train    {_score_line(p.task, train_pred, r.y_tr, poisson, p.classes)} "
        f"({_examples(r.m)})")
    if not len(r.y_te):
        say("note     no held-out set: scores on the training data (--test-size 0.2 "
            "holds out 20%)")
        return
    pred = _predict(net, prep, r.X_te_raw)
    tag = f"{os.path.basename(args.test_data)}, " if args.test_data else ""
    say(f"test     {_score_line(p.task, pred, r.y_te, poisson, p.classes)} "
        f"({tag}{_examples(len(r.y_te))})")
    if p.task == "classification" and not args.quiet:
        _report(p.classes, pred, r.y_te, say)


def _say_speed(r, init_params, budget, say):
    """Time fastbp against plain NumPy from the initial parameters; keep the trained ones."""
    net = r.net
    trained = net.flat_parameters.copy()
    net.flat_parameters[...] = init_params
    if r.output == "softmax":
        from fastbp._numpy_baseline import one_hot
        Y_dense = one_hot(r.Y, r.n_out, dtype=net.dtype)
    else:
        Y_dense = np.asarray(r.Y, dtype=net.dtype).reshape(r.n_out, r.m)
    f_t, n_t, (lo, hi), pairs, k = _compare_speed(net, r.make_opt, r.X, r.Y, Y_dense, r.bs,
                                                 budget)
    net.flat_parameters[...] = trained
    net.bind_optimizer(r.opt)
    how = (f"median of {pairs} interleaved timings of {k} epoch{'s' if k > 1 else ''} each,"
           if pairs > 1 else "ONE timing (rough: a larger --compare-budget gives a median),")
    say(f"fastbp   {f_t * 1e3:.4f} ms/epoch  | {how}")
    say(f"numpy    {n_t * 1e3:.4f} ms/epoch  | both warmed up; same network, batches and "
        "update in plain NumPy")
    spread = (f" ({_ratio(lo)}x-{_ratio(hi)}x over the {pairs} pairs)" if pairs > 1
              else "")
    say(f"speed-up {_ratio(n_t / f_t)}x over plain NumPy{spread}")
    if n_t < f_t and net.effective_n_threads > 1:
        from fastbp._openmp_helpers import cpu_count
        say("note     " + _validation.cli_slower_than_numpy(net.effective_n_threads,
                                                            _load_average(), cpu_count()))


def _examples(n):
    """'1 example', '2 examples'."""
    return f"{n} example{'' if n == 1 else 's'}"


def _ratio(x):
    """A speed ratio with one decimal, or two significant digits below 0.1 (not 0.0)."""
    return f"{x:.1f}" if x >= 0.1 else f"{x:.2g}"


def _load_average():
    """The 1-minute load average, or None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _wrote(args, option):
    """Record that the file ``--option`` names is written (a Ctrl-C message
    lists those that are not)."""
    args.__dict__.setdefault("_written", set()).add(option)


def _save(r, args, history):
    try:
        saved = r.net.save(args.save, optimizer=r.opt,
                           extra={"epoch": r.epochs, "history": history,
                                  "preprocessing": r.prep})
    except OSError as exc:
        raise CLIError(f"cannot write --save {args.save!r}: {exc.strerror or exc}",
                       DATA) from None
    _wrote(args, "save")
    return saved


def _say_outputs(r, args, history, saved, say):
    """Where the model and the plot went, or how to get them."""
    if saved:
        say(f"saved    network and preprocessing to {saved} (apply it: fastbp predict "
            f"--model {shlex.quote(str(saved))} --data FILE)")
    else:
        say("save     --save FILE.npz keeps the network and its preprocessing for "
            "fastbp predict")
    if not args.plot:
        say("plot     --plot FILE.png draws the loss curves"
            + ((" and the decision boundary" if r.prep["task"] == "classification"
                else " and the fitted surface") if r.p.X.shape[1] == 2 else ""))
        return
    Xp = np.vstack([r.X_tr_raw, r.X_te_raw])
    yp = np.concatenate([np.asarray(r.y_tr, dtype=object), np.asarray(r.y_te, dtype=object)])
    try:
        _plot(args.plot, r.net, r.prep, Xp, yp, history, f"{list(r.net.layer_dims)} {r.hidden}")
    except OSError as exc:
        raise CLIError(f"cannot write --plot {args.plot!r}: {exc}", DATA) from None
    _wrote(args, "plot")
    say(f"plot     {args.plot}")


def _check_converged(net, r, initial_loss, comm):
    """Stop, as a non-finite loss does, when training ended far above where it started.

    A step whose loss is not finite stops ``fit`` (FloatingPointError), but an
    optimizer whose steps are bounded by the learning rate (Adam) can blow the
    loss up to 1e24 and stay finite: a useless model reported with status 0.
    The training cost after fit, on the training data, is compared with the
    cost before it (both from ``net.evaluate``); every rank decides the same.
    """
    final = r.final_loss = net.evaluate(r.X, r.Y)[0]
    err = None
    try:
        _validation.check_training_converged(initial_loss, final, r.epochs)
    except ValueError as exc:
        err = CLIError(f"{exc}; try a smaller --lr", DATA)
    if comm is not None:
        from fastbp.distributed import agree
        agree(comm, err)
    elif err is not None:
        raise err


def _duration(seconds):
    """'1.25 s', or '8.2 ms' below a tenth of a second (a short fit read '0.00 s')."""
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1e3:.2g} ms"


def _train(args, comm):
    """``fastbp train``; with an MPI ``comm``, data-parallel over its ranks."""
    rank = 0 if comm is None else comm.Get_rank()
    size = 1 if comm is None else comm.Get_size()

    reader_gone = []

    def say(*a, **k):
        # `fastbp train --save m.npz | head -2`: the reader leaving must not stop
        # the run before --save and --plot are written; the rest of the report
        # goes nowhere (and the NumPy comparison, which only prints, is skipped)
        if rank == 0 and not reader_gone:
            try:
                print(*a, **k)
            except BrokenPipeError:
                _stdout_to_devnull()
                reader_gone.append(True)

    d = PLANAR_DEFAULTS if args.data is None else DATA_DEFAULTS
    seed = d["seed"] if args.seed is None else args.seed
    err = None
    try:
        _check_train_options(args, rank)
        r = _setup(args, d, seed)
    except CLIError as exc:
        if comm is None:
            raise
        err = exc
    if comm is not None:
        from fastbp.distributed import agree, default_n_threads
        agree(comm, err)                      # a setup error anywhere stops every rank
        nt = args.threads if args.threads is not None else default_n_threads(comm)
        threads = f"{size} process{'es' if size > 1 else ''} x {nt} thread(s)"
    else:
        threads = f"{r.net.effective_n_threads} thread(s)"
    _say_setup(r, threads, say)
    if comm is not None and size == 1:
        say("note     --distributed on 1 process: start several with mpiexec -n N")
    from fastbp.distributed import launcher_sizes
    launched = max((n for _, n in launcher_sizes()), default=0)
    if comm is None and launched > 1:
        say(f"note     mpiexec started {launched} processes and each trains a model of its "
            "own: add --distributed to train one model on all of them")
    net = r.net
    init_params = net.flat_parameters.copy()          # the NumPy baseline starts here too
    initial_loss = net.evaluate(r.X, r.Y)[0]
    t0 = time.perf_counter()
    try:
        history = net.fit(r.X, r.Y, epochs=r.epochs, batch_size=r.bs, optimizer=r.opt,
                          shuffle=r.bs < r.m, seed=seed, verbose=not args.quiet, comm=comm,
                          validation_data=(r.Xte, r.Yte) if r.Yte is not None else None)
    except FloatingPointError as exc:
        err = CLIError(f"{str(exc).rstrip('.')}; try a smaller --lr", DATA)
        if comm is not None:
            from fastbp.distributed import is_collective_error, mark_collective
            if is_collective_error(exc):
                mark_collective(err)     # every rank raised it: printed once, no abort
        raise err from None
    fit_time = time.perf_counter() - t0
    _check_converged(net, r, initial_loss, comm)
    if rank == 0:
        _say_scores(r, args, say)
    say(f"trained  {r.epochs} epochs in {_duration(fit_time)} "
        f"({fit_time / max(r.epochs, 1) * 1e3:.3f} ms/epoch, fit loop and progress included)")
    if comm is not None and r.epochs > 0:
        steps = r.epochs * -(-r.m // r.bs)
        ar = sum(t or 0.0 for t in history["allreduce_seconds"])
        nbytes = net.grad_store.nbytes
        say(f"allreduce {ar / steps * 1e6:.1f} us/step on rank 0 ({ar / fit_time:.0%} of the "
            f"time; {nbytes} bytes summed per step, waiting for slower ranks included)")
    saved = _save(r, args, history) if args.save and rank == 0 else None
    if comm is not None:
        say("numpy    comparison skipped under --distributed")
    elif (not args.no_compare and r.epochs > 0 and not reader_gone
          and not getattr(sys.stdout, "error", None)):    # it only prints
        _say_speed(r, init_params, args.compare_budget, say)
    if rank == 0:
        _say_outputs(r, args, history, saved, say)
    return 0


# ----------------------------------------------------------------- predict

def cmd_predict(args):
    from fastbp import checkpoint
    from fastbp.network import Network

    out_stream = sys.stdout if args.out else sys.stderr

    def say(*a):
        print(*a, file=out_stream)

    with _reported(USAGE):
        if args.threads is not None:
            _validation.check_threads_option(args.threads)
        if args.out:
            _validation.check_output_path("--out", args.out)
        args.model, model_note = _validation.model_path(args.model)
        _validation.check_input_file("--model", args.model)
        if args.out:
            _validation.check_not_an_input("--out", args.out,
                                           {"--data": args.data, "--model": args.model})
            out_sep, out_compression = _out_format(args.out)
    with _reported(DATA):
        _validation.check_model_file(args.model)
    try:
        data = checkpoint.read(args.model, ("train", "config"), ("train", "config"),
                               wanted=lambda key: False)    # not the parameters: load's
        with _reported(DATA):
            train = data["train"] if isinstance(data["train"], dict) else {}
            config = data["config"] if isinstance(data["config"], dict) else {}
            dims = config.get("layer_dims")
            prep = _validation.check_preprocessing(
                train.get("preprocessing"), args.model,
                dims if isinstance(dims, list) and len(dims) >= 2 else None)
        net = Network.load(args.model, n_threads=args.threads)
    except ValueError as exc:
        raise CLIError(f"--model: {exc}", DATA) from None
    table = _read_table(args.data, args, n_inputs=_npz_width(prep),
                        npz_rows=prep.get("rows", True))
    _check_layout(table, prep, "--data")
    if model_note:
        table.notes.insert(0, model_note)
    _index_as_feature(table, prep, args)
    names, columns, missing = table.file_columns()
    with _reported(USAGE):
        kept = [_validation.find_column(names, k, "--keep") for k in args.keep or ()]
        _validation.check_kept_names([names[j] for j in kept],
                                     _validation.prediction_column(prep["target"]))
    X_raw, rows = _apply_model_columns(table, prep, dropna=args.dropna,
                                       ignore={names[j] for j in kept},
                                       decimal=args.decimal, thousands=args.thousands)
    pred = _predict(net, prep, X_raw)
    y, scored = _target_values(table, prep["target"], rows, text=_text_classes(prep))
    infinite = []
    if y is not None and prep["task"] == "regression":
        y = _regression_targets(y, prep["target"], table)
        if isinstance(y, CLIError):          # predictions stand; the column is not scored
            table.notes.append(f"{y.args[0]}: not scored")
            y = scored = None
        elif not np.isfinite(y).all():
            # an inf true value is left out of the score as a missing one is (it
            # had made the score 'R^2 nan RMSE inf' after NumPy's raw warning)
            finite = np.isfinite(y)
            lost = np.flatnonzero(scored)[~finite]      # among the predicted rows
            scored = scored.copy()
            scored[lost] = False
            y = y[finite]
            predicted = np.arange(table.m) if rows is None else np.flatnonzero(rows)
            infinite = table.where(predicted[lost])
    if y is not None and prep["task"] == "classification":
        note = _unknown_labels_note(prep["classes"], y, prep["target"], table.source,
                                    table.layout == "no header",
                                    _spelled_targets(table, prep["target"], rows))
        if note:
            table.notes.append(note)
    if scored is not None and scored.all():
        scored = None                   # every row has a value: the whole column is scored
    elif scored is not None:
        table.notes.append(_validation.predict_unlabelled_note(
            prep["target"], int((~scored).sum()), len(pred), infinite))
        y = y if scored.any() else None
    if table.index is not None and table.index[0] not in kept:
        j, index_name = table.index[:2]
        spec = (str(j) if _validation.is_pandas_placeholder(index_name)
                else shlex.quote(index_name))
        table.notes.append(f"the row index is not in the output: --keep {spec} copies it")
    for note in table.notes:
        say(f"note     {note}")
    poisson = net.output == "exp"
    say(f"model    {os.path.basename(args.model)}: {'Poisson ' if poisson else ''}"
        f"{prep['task']} of {prep['target']!r} from {len(prep['features'])} features")
    name = _validation.prediction_column(prep["target"])
    # pandas' placeholder for an empty header goes back out as an empty header
    raw = table.raw_text() if kept and table.raw_text is not None else None
    if raw is not None and raw.shape == (table.m, len(names)):
        # the file's own text: ids keep their leading zeros and all their digits
        front = [("" if _validation.is_pandas_placeholder(names[j]) else names[j],
                  raw.iloc[:, j].to_numpy(dtype=object), np.zeros(table.m, bool))
                 for j in kept]
    else:
        front = [("" if _validation.is_pandas_placeholder(names[j]) else names[j],
                  columns[j], missing[j]) for j in kept]
    if args.out:
        try:
            with _open_out(args.out, out_compression) as f:
                _write_predictions(f, name, pred, prep["task"], front, rows, sep=out_sep)
        except OSError as exc:
            raise CLIError(f"cannot write --out {args.out!r}: {exc.strerror}", DATA) from None
        _wrote(args, "out")
        empty = 0 if rows is None else int((~rows).sum())
        skipped = ("" if rows is None else
                   f" ({empty} row{'' if empty == 1 else 's'} left empty: --dropna)")
        say(f"wrote    {len(pred)} predictions to {args.out}{skipped}")
    else:
        try:
            _write_predictions(sys.stdout, name, pred, prep["task"], front, rows)
            sys.stdout.flush()
        except BrokenPipeError:
            # `fastbp predict ... | head`: the reader has what it wanted; the
            # score (on stderr) still follows and the run ends with status 0
            _stdout_to_devnull()
    if y is not None:
        pred_scored = pred if scored is None else pred[scored]
        line = _score_line(prep["task"], pred_scored, y, poisson, prep["classes"])
        say(f"score    {line} "
            f"({_examples(len(pred_scored))} of {table.source} with a {prep['target']!r} "
            f"{'column' if scored is None else 'value'})")
    return 0


def _index_as_feature(table, prep, args):
    """Put a first column read as the row index back among the columns when the
    model was trained on it as a feature (``fastbp train --index-col none``)."""
    if table.index is None or args.index_col is not None:
        return
    j, name, col, miss = table.index
    if name in prep["features"]:
        table.names.insert(j, name)
        table.columns.insert(j, col)
        table.missing.insert(j, miss)
        table.index = None
        table.notes.remove(table.index_note)


def _write_predictions(f, name, pred, task, front=(), rows=None, sep=","):
    """The output CSV: the ``front`` columns ((header, column, missing), ``--keep``),
    then the predictions; ``rows`` (bool mask, ``--dropna``) marks the input rows
    that have one (the others get an empty cell), None: every row. ``sep``: the
    field separator (a tab for a .tsv --out)."""
    w = csv.writer(f, lineterminator="\n", delimiter=sep)
    w.writerow([h for h, _, _ in front] + [name])
    values = iter(pred)
    for i in range(len(pred) if rows is None else len(rows)):
        cells = [_cell(col[i], miss[i]) for _, col, miss in front]
        if rows is None or rows[i]:
            v = next(values)
            # the shortest text that reads back as the same double (8 digits
            # had rounded 1.7e9-sized targets to steps of 10-100)
            cells.append(repr(float(v)) if task == "regression" else v)
        else:
            cells.append("")
        w.writerow(cells)


def _cell(v, missing):
    """A copied input value as CSV text: empty where missing, floats in their shortest
    exact form (they read back as the same numbers)."""
    if missing:
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.integer):
        return str(int(v))
    return v


# ------------------------------------------------------------------- info

def cmd_info(args):
    from fastbp._config import show_config
    show_config()
    return 0


# ------------------------------------------------------------------- main

def _one_line(exc):
    """The text of an exception on one line (library messages may span several)."""
    return " ".join(str(exc).split())


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the one-line ``fastbp: error: ...`` form, and no
    prefix matching of long options (the program's parser and each command's): it
    took ``predict --drop X`` as ``--dropna`` and ``train --epoch 5`` as ``--epochs``,
    hiding the typo; an abbreviation is an unrecognized argument."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(USAGE, f"fastbp: error: {message} (see: {self.prog} --help)\n")


class _CommandParser(_Parser):
    """A command's parser (``fastbp train``, ...): an argument it does not know is
    its own error, pointing to its own help, not the program's (argparse leaves
    a subparser's leftovers for the top-level parser to report)."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            takes_data = any("--data" in a.option_strings for a in self._actions)
            self.error(_validation.cli_unrecognized_arguments(
                extras, data_suffixes=(".npz", ".zip") + PARQUET_SUFFIXES + tuple(TABLE_SUFFIXES)
                if takes_data else ()))
        return namespace, extras


def _add_table_options(p):
    g = p.add_argument_group("reading the data (CSV/TSV with pandas)")
    g.add_argument("--sep", metavar="SEP", type=_sep_text,
                   help="column separator: ',', ';', tab, ... (default: sniffed from "
                        "the file among , ; tab |)")
    g.add_argument("--decimal", default=".", metavar="CHAR", type=_decimal_option,
                   help="decimal point (',' for 1,5)")
    g.add_argument("--thousands", metavar="CHAR", type=_thousands_option,
                   help="thousands separator inside numbers (',' for 51,494.5; '.' with "
                        "--decimal , for 51.494,5; ' ' or a no-break space, $'\\u00a0' in "
                        "bash, with --decimal , for 51 494,5)")
    g.add_argument("--header", default="infer", choices=("infer", "0", "none"),
                   help="first row holds the column names: infer (default), 0 (yes), none")
    g.add_argument("--index-col", metavar="NAME|POS|none",
                   help="column holding the row index, not a feature; none: every column "
                        "is data (default: the first column when it is pandas' index: "
                        "unnamed with whole numbers, counting the rows 0..m-1 or "
                        "1..m, or named id/index with distinct whole numbers; a note says "
                        "so)")


def _thousands_option(text):
    """--thousands: one character that is not a digit, sign or point of a number."""
    if len(text) != 1 or text in "0123456789+-eE":
        raise argparse.ArgumentTypeError(
            f"expected one character such as ',' or '.' or ' ', got {text!r}")
    return text


def _layers_option(text):
    """--layers: comma-separated positive ints (checked against the labels later)."""
    try:
        _validation.parse_layers(text, None, option="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _hidden_option(text):
    """--hidden: an activation name, or comma-separated names (one per hidden layer)."""
    from fastbp.network import ACTIVATIONS
    items = text.split(",")
    for i, item in enumerate(items):
        if item not in ACTIVATIONS:
            what = ("empty" if not text else f"item {i + 1} is empty" if not item
                    else f"{item!r} is not an activation")
            raise argparse.ArgumentTypeError(
                f"expected an activation, or one per hidden layer separated by commas, "
                f"like relu or tanh,relu; got {text!r} ({what}); valid: "
                f"{', '.join(ACTIVATIONS)}")
    return text


def _sep_text(text):
    """--sep: a separator, not an empty string (which fell back to sniffing)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a separator such as ',' ';' '|' or tab, "
                                         "got '' (leave --sep out to sniff it)")
    return text


def _decimal_option(text):
    """--decimal: one character that is not a digit, sign or exponent (pandas reads
    no longer decimal marker; the error blamed the file)."""
    if len(text) != 1 or text in "0123456789+-eE":
        raise argparse.ArgumentTypeError(
            f"expected one character such as '.' or ',', got {text!r}")
    return text


def _option(check, parse=int):
    """An argparse ``type`` that parses with ``parse`` and checks with ``_validation``:
    a bad value is a usage error (one line, exit status 2) before anything runs."""
    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {parse.__name__} value: {text!r}") from None
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


_POSITIVE_INT = _option(lambda v: _validation.check_positive_int("the value", v))
_SEED = _option(_validation.check_seed)
_POSITIVE_REAL = _option(lambda v: _validation.check_real("the value", v, low=0.0,
                                                          low_open=True), float)
_NON_NEGATIVE_REAL = _option(lambda v: _validation.check_real("the value", v, low=0.0), float)


def build_parser():
    from fastbp.network import INITS, OUTPUTS
    from fastbp.optim import OPTIMIZER_NAMES

    parser = _Parser(
        prog="fastbp", description="Fast fused backward passes for dense networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"fastbp {version}")
    sub = parser.add_subparsers(dest="command", metavar="{train,predict,info}",
                                parser_class=_CommandParser)

    t = sub.add_parser("train", help="train a network (default: the planar flower data)",
                       description="Train a dense network. With no arguments: the course's "
                       "2 -> 4 tanh -> 1 sigmoid network on the planar 'flower' data.")
    t.add_argument("--data", metavar="FILE", help=DATA_HELP)
    t.add_argument("--target", "--label-column", metavar="NAME|POS", dest="target",
                   help="the column to predict: a name, or a position counted from 0 over "
                        "the file's columns, the row index included (default: one named "
                        f"{'/'.join(_validation.TARGET_NAMES)})")
    t.add_argument("--drop", nargs="+", metavar="COL",
                   help="columns that are not features (names or positions, as --target)")
    t.add_argument("--task", choices=("classification", "regression"),
                   help="default: inferred from the target, as scikit-learn's type_of_target")
    t.add_argument("--dropna", action="store_true",
                   help="drop rows with missing values (default: stop and name them)")
    t.add_argument("--test-size", metavar="FRACTION|N",
                   help="held-out share, stratified for classification (default 0.2 for "
                        "--data, 0 for the planar data; 0: no held-out set)")
    t.add_argument("--test-data", metavar="FILE",
                   help="a separate held-out file with the same columns (no split)")
    t.add_argument("--no-standardize", action="store_true",
                   help="do not standardise the features of --data")
    _add_table_options(t)
    n = t.add_argument_group("the network and its training")
    n.add_argument("--layers", metavar="N1,...,NL", type=_layers_option,
                   help="sizes after the input layer, output last (default planar: 4,1; "
                        "--data: 64 and the output)")
    n.add_argument("--hidden", metavar="ACT", type=_hidden_option,
                   help="hidden activation(s), e.g. relu or tanh,relu")
    n.add_argument("--output", choices=tuple(OUTPUTS),
                   help="output layer (default from the task and number of classes); "
                        "exp: Poisson regression of counts or rates >= 0 (implies --task "
                        "regression; the target is not standardised)")
    n.add_argument("--init", choices=INITS)
    n.add_argument("--epochs", type=_POSITIVE_INT)
    n.add_argument("--batch-size", type=_POSITIVE_INT,
                   help="default: full batch for planar, 64 otherwise")
    n.add_argument("--lr", type=_POSITIVE_REAL, help="learning rate")
    n.add_argument("--optimizer", choices=OPTIMIZER_NAMES)
    n.add_argument("--threads", type=int,
                   help="threads (default: all cores; -1 all, -2 all but one)")
    n.add_argument("--seed", type=_SEED, help="initialisation, shuffling and the split")
    n.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    o = t.add_argument_group("output")
    o.add_argument("--save", metavar="FILE.npz",
                   help="write the network and its preprocessing (for fastbp predict)")
    o.add_argument("--plot", metavar="FILE.png",
                   help="loss curves, and the decision boundary (regression: the fitted "
                        "surface) of 2-D data; needs matplotlib")
    o.add_argument("--no-compare", action="store_true",
                   help="skip the plain-NumPy speed comparison")
    o.add_argument("--compare-budget", type=_NON_NEGATIVE_REAL, default=3.0,
                   metavar="SECONDS",
                   help="time for the NumPy comparison (default 3; 0: a single rough "
                        "timing of each, about 20 ms of epochs; --no-compare skips it)")
    o.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, no per-class report")
    o.add_argument("--distributed", action="store_true",
                   help="data-parallel over MPI: run as mpiexec -n N fastbp train "
                   "--distributed (needs mpi4py: pip install 'fastbp[mpi]'); --batch-size "
                   "is the global batch, --threads is per process (default: the node's "
                   "cores shared among its processes)")
    t.set_defaults(func=cmd_train)

    pr = sub.add_parser("predict", help="apply a model saved by fastbp train --save",
                        description="Predict the target of new data with a model saved by "
                        "fastbp train --save (network, feature names, scaling, classes). "
                        "Columns are matched by name, or by position when the training file "
                        "had no header row or was an .npz (the file must then be laid out "
                        "as the training file: the same number of columns, in the same "
                        "order); a target column, if present, is "
                        "scored, on the rows that have a value in it (a note says how many "
                        "have none). The predictions are one CSV column named "
                        f"{_validation.prediction_column('<target>')} (e.g. "
                        f"{_validation.prediction_column('price')} for a model of 'price'), "
                        "one line per input row, after the columns --keep copies; printed "
                        "or written to --out alike.")
    pr.add_argument("--model", required=True, metavar="FILE.npz",
                    help="the file fastbp train --save wrote (NAME reads NAME.npz when "
                         "NAME does not exist; a note says so)")
    pr.add_argument("--data", required=True, metavar="FILE", help=PREDICT_DATA_HELP)
    pr.add_argument("--out", metavar="FILE.csv",
                    help="write the predictions there, the same CSV column as printed "
                         "(tab-separated for a .tsv name), compressed for a .gz, .bz2 or "
                         ".xz name (default: print them)")
    pr.add_argument("--keep", action="append", metavar="COL",
                    help="copy this column of --data into the output, in front of the "
                         "predictions (repeatable, in the order given; a name, or a "
                         "position counted from 0 over the file's columns, the row index "
                         "included), e.g. --keep id to join the predictions back")
    pr.add_argument("--dropna", action="store_true",
                    help="rows with a missing feature value get no prediction (an empty "
                         "cell; every input row keeps its output line) instead of stopping "
                         "(default: stop and name them)")
    pr.add_argument("--threads", type=int, help="threads (default: all cores)")
    _add_table_options(pr)
    pr.set_defaults(func=cmd_predict)

    i = sub.add_parser("info", help="version, threads, SIMD, small GEMM, BLAS library and kernel",
                       description="Print fastbp's configuration: versions, OpenMP and "
                       "thread counts, the SIMD clones in use, where small matrix products "
                       "run (fastbp's own kernel or BLAS; docs/architecture.md, 'Small "
                       "products'), SciPy's BLAS library, kernel and thread pools, and the "
                       "OMP_/OPENBLAS_/MKL_/GOMP_/FASTBP_ environment variables set; and where "
                       "the guides cited as docs/... are installed.")
    i.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    """Run the ``fastbp`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # a usage error, as argparse's missing required argument (and git's
        # missing command): the help goes to stderr, stdout stays empty
        parser.print_help(sys.stderr)
        parser.exit(USAGE, f"fastbp: error: {_validation.CLI_NO_COMMAND}\n")
    empty = _validation.empty_path_option(args)
    if empty is not None:
        parser.exit(USAGE, f"fastbp: error: {empty}\n")
    gone = _cwd_gone_option(args)
    if gone is not None:
        parser.exit(DATA, f"fastbp: error: {gone}\n")
    with warnings.catch_warnings():         # restores showwarning when the command ends
        warnings.showwarning = _show_warning
        return _run(parser, args)


def _cwd_gone_option(args):
    """The error for an option naming a relative path when the working directory
    has been deleted (a shell left in a removed folder): such a name leads nowhere,
    and os.path.abspath raised FileNotFoundError; or None."""
    relative = [(dest, getattr(args, dest)) for dest in _validation.PATH_OPTIONS
                if getattr(args, dest, None) and not os.path.isabs(getattr(args, dest))]
    if not relative:
        return None
    try:
        os.getcwd()
        return None
    except FileNotFoundError:
        dest, path = relative[0]
        return (f"--{dest.replace('_', '-')} {path!r}: the current directory no longer "
                "exists (was it deleted?): cd to an existing directory, or give an absolute "
                "path")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A Python warning raised while a command runs (``--threads 1000``'s cap, ...), as
    one line ``warning  ...`` on stderr like the notes, without the warning
    machinery's file name and source line (``FASTBP_DEBUG=1`` keeps them)."""
    if os.environ.get("FASTBP_DEBUG"):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        return
    print(f"warning  {_one_line(message)}", file=sys.stderr)


class _ReaderMayLeave:
    """stderr whose reader may leave (``fastbp train ... 2>&1 | head``): the
    first BrokenPipeError sends the stream's descriptor to /dev/null and the
    command goes on, so --save / --plot / --out are still written (a note
    printed after the reader left had stopped the run with status 1)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self):
        try:
            _to_devnull(self._stream.fileno())
        except (OSError, ValueError, AttributeError):   # not a file (captured output)
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


#: the options naming files a command writes besides stdout
_OUTPUT_FILE_OPTIONS = ("save", "plot", "out")


class _StdoutMayFail:
    """stdout that may refuse what is written: closed (``>&-``), a full disk or
    ``/dev/full``, an I/O error. The first failure is kept and what follows goes
    nowhere, so that the files asked for (--save, --plot, --out) are still
    written; the command then ends with ``fastbp: error: cannot write to standard
    output: ...`` (status 1). With no such file to write (``keep_going`` false)
    the failure stops the command at once. A reader that left (BrokenPipeError,
    ``| head``) is no failure: it passes through to its own handling."""

    def __init__(self, stream, keep_going):
        self._stream = stream
        self._keep_going = keep_going
        self.error = None          # the message of the first failure, or None

    def write(self, text):
        if self.error is None:
            if self._stream is None:        # closed when Python started: sys.stdout None
                self._failed("it is closed (>&-): redirect it to a file or to /dev/null "
                             "instead")
                return len(text)
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                raise
            except OSError as exc:
                self._failed(exc.strerror or _one_line(exc))
        return len(text)

    def flush(self):
        if self.error is None and self._stream is not None:
            try:
                self._stream.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                self._failed(exc.strerror or _one_line(exc))

    def _failed(self, why):
        self.error = f"cannot write to standard output: {why}"
        try:
            # what is still buffered goes to /dev/null, not to a second error
            # when Python flushes stdout at exit
            fd = self._stream.fileno()
        except (OSError, ValueError, AttributeError):   # not a file (captured output)
            self._stream = None
        else:
            _to_devnull(fd)
        if not self._keep_going:
            raise CLIError(self.error, DATA)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _run(parser, args):
    """The command's function, its failures turned into one-line errors."""
    stderr, stdout = sys.stderr, sys.stdout
    sys.stderr = _ReaderMayLeave(stderr)
    # the files a command writes besides stdout: a failing stdout does not stop those
    keep_going = any(getattr(args, k, None) for k in _OUTPUT_FILE_OPTIONS + ("distributed",))
    sys.stdout = _StdoutMayFail(stdout, keep_going)
    try:
        return _run_guarded(parser, args)
    finally:
        sys.stderr, sys.stdout = stderr, stdout


def _run_guarded(parser, args):
    try:
        status = args.func(args)
        sys.stdout.flush()           # a full disk shows here when stdout is a file
        if sys.stdout.error:
            written = [f"--{k} {getattr(args, k)}" for k in _OUTPUT_FILE_OPTIONS
                       if getattr(args, k, None)]
            raise CLIError(sys.stdout.error + (f" ({' and '.join(written)} written)"
                                               if written else ""), DATA)
        return status
    except CLIError as exc:
        parser.exit(exc.status, f"fastbp: error: {_one_line(exc)}\n")
    except KeyboardInterrupt:
        # the output files are written at the end: say which were not
        # ("interrupted" alone left a user looking for the --save file)
        # (--save is written atomically; --out and --plot may be left part
        # written; with --distributed only rank 0 writes, and this rank may
        # not be it: no names there)
        written = getattr(args, "_written", set())
        missing = [f"--{k} {getattr(args, k)}"
                   + (" not written" if k == "save" else " not written or incomplete")
                   for k in _OUTPUT_FILE_OPTIONS
                   if getattr(args, k, None) and k not in written]
        if getattr(args, "distributed", False):
            missing = []
        print("interrupted" + (f" ({'; '.join(missing)})" if missing else ""),
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (`fastbp info | head -1`): it has what it
        # read; stop quietly, status 0 (no second error when stdout is flushed)
        _stdout_to_devnull()
        return 0
    except MemoryError:
        parser.exit(DATA, "fastbp: error: out of memory\n")
    except Warning as exc:
        # a warning the user's filter made an error (PYTHONWARNINGS=error, -W error):
        # what it says, not a bug to report (FASTBP_DEBUG=1: where it was raised)
        if os.environ.get("FASTBP_DEBUG"):
            raise
        parser.exit(DATA, f"fastbp: error: {_one_line(exc)} ({type(exc).__name__} made an "
                    "error by PYTHONWARNINGS or python -W)\n")
    except Exception as exc:
        if os.environ.get("FASTBP_DEBUG"):
            raise
        parser.exit(DATA, f"fastbp: error: {type(exc).__name__}: {_one_line(exc)} (an unexpected "
                    "failure; FASTBP_DEBUG=1 shows the traceback; please report it)\n")


if __name__ == "__main__":
    sys.exit(main())
