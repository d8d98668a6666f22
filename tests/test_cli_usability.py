"""Command-line usability: abbreviations, hints in errors, compressed tables,
warnings as one line, pasteable suggestions, id-like columns (each test is a
finding of a fresh-user trial).

Run in-process like tests/test_cli_data.py: every failure is one line
``fastbp: error: ...`` with status 1 (the data) or 2 (the options).
"""
import os
import re
import shlex

import numpy as np
import pytest

import fastbp

from cli_support import QUICK, blobs as _blobs, cli, fail, train_saved

pd = pytest.importorskip("pandas")


def blobs(m=120, n=3, k=2, seed=0):
    """cli_support.blobs, smaller: 120 examples of 3 features, 2 classes."""
    return _blobs(m, n, k, seed)


@pytest.fixture
def trained(tmp_path, capsys):
    """(data path, model path, DataFrame) of a small model saved by fastbp train --save."""
    df = blobs()
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    train_saved(capsys, df, path, model)
    return path, model, df


# 1 ------------------------------------------------------------ abbreviations

def test_abbreviated_options_are_unknown_not_prefix_matched(trained, capsys):
    """`predict --drop X` was taken as --dropna and `train --epoch 5` as --epochs:
    argparse's prefix matching hid the typo."""
    path, model, _ = trained
    fail(capsys, 2, "predict", "--model", model, "--data", path, "--drop", "f0",
         match=r"^fastbp: error: unrecognized arguments: --drop f0 "
               r"\(see: fastbp predict --help\)$")
    fail(capsys, 2, "train", "--data", path, "--epoch", "5", "-q", "--no-compare",
         match=r"^fastbp: error: unrecognized arguments: --epoch 5 "
               r"\(see: fastbp train --help\)$")
    fail(capsys, 2, "--vers", match=r"unrecognized arguments: --vers \(see: fastbp --help\)$")


# 2 ---------------------------------------------------- text in a model feature

def test_predict_text_feature_says_the_model_needs_numbers(trained, tmp_path, capsys):
    """predict said 'Drop it with --drop ...', an option it does not have, for a
    column the model needs."""
    path, model, df = trained
    units = df.astype({"f1": object})
    units["f1"] = [f"{v:.1f}cm" for v in df["f1"]]
    units.to_csv(tmp_path / "units.csv", index=False)
    fail(capsys, 1, "predict", "--model", model, "--data", tmp_path / "units.csv",
         match=r"feature column 'f1' holds text \(.*cm.*\): the model was trained on it as "
               r"numbers, so the file must hold numbers there \(strip units, e\.g\. "
               r"'5\.8cm' -> 5\.8\)$")
    code, _, err = cli(capsys, "predict", "--model", model, "--data", tmp_path / "units.csv")
    assert "--drop" not in err, err
    # train still offers --drop: there the column can be left out
    fail(capsys, 1, "train", "--data", tmp_path / "units.csv", *QUICK,
         match=r"Drop it with --drop f1 ")


# 3 ------------------------------------------------ missing labels in predict

def test_predict_scores_the_labelled_rows_and_says_so(trained, tmp_path, capsys):
    """A target column with some missing labels printed no score and no reason."""
    path, model, df = trained
    part = df.astype({"target": float})
    part.loc[[0, 5, 7], "target"] = np.nan
    part.to_csv(tmp_path / "part.csv", index=False)
    out_csv = tmp_path / "p.csv"
    code, out, err = cli(capsys, "predict", "--model", model, "--data", tmp_path / "part.csv",
                         "--out", out_csv)
    assert code == 0, err
    assert "note     3 of 120 rows have no 'target' value: scored on the other 117 rows" in out
    pred = pd.read_csv(out_csv)["predicted_target"].to_numpy()
    assert len(pred) == 120
    keep = part["target"].notna().to_numpy()
    expected = np.mean(pred[keep] == part["target"].to_numpy()[keep])
    score = re.search(r"score    accuracy ([\d.]+)% \(117 examples of part\.csv with a "
                      r"'target' value\)", out)
    assert score and abs(float(score.group(1)) - 100 * expected) < 0.006, out
    # no label at all: the note says why there is no score
    part["target"] = np.nan
    part.to_csv(tmp_path / "none.csv", index=False)
    code, out, err = cli(capsys, "predict", "--model", model, "--data", tmp_path / "none.csv")
    assert code == 0, err
    assert "120 of 120 rows have no 'target' value: no score" in err and "score" not in \
        err.replace("no score", ""), err


# 4 --------------------------------------------- inf, encodings, compression

def test_infinite_values_say_what_to_do_and_that_dropna_keeps_them(tmp_path, capsys):
    df = blobs()
    df.loc[4, "f2"] = np.inf
    path = tmp_path / "inf.csv"
    df.to_csv(path, index=False)
    for extra in ((), ("--dropna",)):
        fail(capsys, 1, "train", "--data", path, *QUICK, *extra,
             match=r"infinite values in 1 row\(s\) \(line 6\) of column\(s\) 'f2': replace "
                   r"them with finite numbers or remove those rows \(--dropna drops rows "
                   r"with missing values, not infinite ones\)$")


def test_a_latin1_file_is_told_to_be_resaved_as_utf8(tmp_path, capsys):
    df = blobs()
    df = df.rename(columns={"f0": "größe"})
    path = tmp_path / "latin.csv"
    df.to_csv(path, index=False, encoding="latin1")
    fail(capsys, 1, "train", "--data", path, *QUICK,
         match=r"is not UTF-8 text: re-save it as UTF-8, e\.g\. "
               r"df\.to_csv\(path, encoding='utf-8'\) .*iconv -f latin1 -t utf-8")
    # a bad byte past the first 64 KiB that the reader samples: the same message
    big = blobs(m=3000)
    big["note"] = "x" * 30
    big.loc[2900, "note"] = "é"
    big.to_csv(tmp_path / "late.csv", index=False, encoding="latin1")
    fail(capsys, 1, "train", "--data", tmp_path / "late.csv", "--drop", "note", *QUICK,
         match=r"is not UTF-8 text: re-save it as UTF-8")


@pytest.mark.parametrize("write, match", [
    (lambda df, p: df.to_csv(p, index=False, compression="gzip"),
     r"is gzip-compressed, not text: name it \.csv\.gz"),
    (lambda df, p: df.to_csv(p, index=False, compression={"method": "zip",
                                                             "archive_name": "d.csv"}),
     r"is a ZIP archive, not text \(an Excel \.xlsx workbook is one\)"),
    (lambda df, p: df.to_csv(p, index=False, encoding="utf-16"),
     r"is UTF-16 text, not UTF-8 .*iconv -f utf-16 -t utf-8"),
], ids=["gzip", "zip", "utf-16"])
def test_a_file_that_is_not_text_says_what_it_is(tmp_path, capsys, write, match):
    """A gzipped download, an Excel workbook or Excel's UTF-16 'Unicode Text'
    named .csv was told to re-save it from latin1 to UTF-8 (a fresh-user trial)."""
    path = tmp_path / "d.csv"
    write(blobs(), path)
    fail(capsys, 1, "train", "--data", path, *QUICK, match=match)


@pytest.mark.parametrize("suffix", [".csv.gz", ".tsv.bz2", ".csv.zip", ".csv.xz", ".CSV.GZ",
                                    ".zip"])
def test_compressed_tables_are_read_like_plain_ones(tmp_path, capsys, suffix):
    """.csv.gz was refused ('--data must be a .csv or .tsv table ...') although pandas
    reads it by its suffix."""
    df = blobs()
    plain, packed = tmp_path / "d.csv", tmp_path / f"d{suffix}"
    df.to_csv(plain, index=False)
    df.to_csv(packed, index=False, sep="\t" if ".tsv" in suffix else ",",
              compression={".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz"}[
                  "." + suffix.rsplit(".", 1)[1].lower()])
    code, out_plain, err = cli(capsys, "train", "--data", plain, *QUICK, "--seed", "3")
    assert code == 0, err
    code, out_packed, err = cli(capsys, "train", "--data", packed, *QUICK, "--seed", "3")
    assert code == 0, err
    strip = lambda out: [ln for ln in out.splitlines()            # noqa: E731
                         if not ln.startswith(("data", "trained", "note     separator"))]
    assert strip(out_packed) == strip(out_plain)
    assert f"data     d{suffix}: 120 examples, 3 features" in out_packed
    # predict reads it too
    model = tmp_path / "m.npz"
    assert cli(capsys, "train", "--data", plain, *QUICK, "--save", model)[0] == 0
    code, out, err = cli(capsys, "predict", "--model", model, "--data", packed)
    assert code == 0 and len(out.splitlines()) == 121, err
    # still refused: a compressed file of another kind
    (tmp_path / "d.npz.gz").write_bytes(b"")
    fail(capsys, 2, "train", "--data", tmp_path / "d.npz.gz", *QUICK,
         match=r"--data must be a \.csv or \.tsv table")


def test_a_zip_holding_one_table_is_read_its_separator_sniffed(tmp_path, capsys):
    """The help promised '.zip' but a plain data.zip of one CSV was refused ('--data
    must be ...'); only data.csv.zip was read."""
    import zipfile
    df = blobs()
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as z:
        z.writestr("inside.tsv", df.to_csv(index=False, sep="\t"))
    code, out, err = cli(capsys, "train", "--data", tmp_path / "data.zip", *QUICK)
    assert code == 0, err
    assert "data     data.zip: 120 examples, 3 features, 2 classes" in out, out
    assert "note     separator tab" in out, out
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", df.to_csv(index=False))
        z.writestr("b.csv", df.to_csv(index=False))
    fail(capsys, 1, "train", "--data", tmp_path / "two.zip", *QUICK,
         match=r"cannot read '.*two\.zip' as \.zip: the archive holds 2 files")
    code, out, _ = cli(capsys, "train", "--help")
    assert "a .zip holding one table" in " ".join(out.split()), out


# 5 ------------------------------------------------------------ warnings

def test_threads_beyond_the_cores_is_one_warning_line(tmp_path):
    """--threads 1000 printed Python's RuntimeWarning: a file path, then a source line."""
    import subprocess
    import sys
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import fastbp
    env = {k: v for k, v in os.environ.items() if k not in ("FASTBP_DEBUG", "PYTHONWARNINGS")}
    # the fastbp this process imported, run outside the source tree (as tests/test_cli.py)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))
    env["PYTHONPATH"] = parent + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "fastbp", "train", "--threads", "1000",
                           "-q", "--no-compare", "--epochs", "2"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"warning  n_threads=1000 is more than the {cores} cores this process "
                     f"can use: using {cores} (more threads than cores only slow the "
                     "kernels down)"], proc.stderr
    assert ".py" not in proc.stderr and "RuntimeWarning" not in proc.stderr


# 6 ------------------------------------------- suggested values, shell-quoted

def test_suggested_option_values_are_shell_quoted(tmp_path, capsys):
    """A note said '--drop Unnamed: 0 if it is not a feature': pasted into a shell
    that is two arguments."""
    df = blobs()
    path = tmp_path / "d.csv"
    df.to_csv(path)                              # pandas' index: an unnamed first column
    code, out, err = cli(capsys, "train", "--data", path, "--index-col", "none", *QUICK)
    assert code == 0, err
    assert ("note     feature 'Unnamed: 0' counts the rows (0..119): an id? "
            "--drop 'Unnamed: 0' if it is not a feature") in out, out
    # the file name a bare argument was, and the saved model's name
    spaced = tmp_path / "my data.csv"
    df.to_csv(spaced, index=False)
    fail(capsys, 2, "train", spaced, *QUICK,
         match=re.escape(f"(give the data file as --data '{spaced}')"))
    model = tmp_path / "my model.npz"
    code, out, err = cli(capsys, "train", "--data", spaced, "--save", model, *QUICK)
    assert code == 0, err
    assert f"fastbp predict --model '{model}' --data FILE)" in out, out
    fail(capsys, 2, "train", "--data", spaced, "--drop", "target", *QUICK,
         match=r"^fastbp: error: --drop target: that is the target column")


# 7 --------------------------------------------- --model without its .npz

def test_predict_model_name_without_npz_reads_the_npz(tmp_path, capsys):
    """train --save mymodel writes mymodel.npz; predict --model mymodel said 'no such
    file'."""
    df = blobs()
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    stem = tmp_path / "mymodel"
    code, out, err = cli(capsys, "train", "--data", path, "--save", stem, *QUICK)
    assert code == 0 and (tmp_path / "mymodel.npz").is_file() and not stem.exists(), err
    code, out_stem, err_stem = cli(capsys, "predict", "--model", stem, "--data", path)
    assert code == 0, err_stem
    assert (f"note     --model {stem}: no such file; read {stem}.npz (fastbp train --save "
            "adds .npz)") in err_stem, err_stem
    code, out_npz, _ = cli(capsys, "predict", "--model", f"{stem}.npz", "--data", path)
    assert code == 0 and out_stem == out_npz and len(out_npz.splitlines()) == 121
    # neither exists: still 'no such file', naming what was given
    fail(capsys, 2, "predict", "--model", tmp_path / "other", "--data", path,
         match=r"--model '.*other': no such file$")


# 8 ------------------------------------------------- id-like feature columns

@pytest.mark.parametrize("name", ["ID", "patient_id", "Customer Id", "patient", "CustomerNo",
                                  "row uuid"])
def test_an_id_like_feature_gets_a_note_and_stays(tmp_path, capsys, name):
    df = blobs()
    rng = np.random.default_rng(1)
    df.insert(2, name, rng.permutation(np.arange(1000, 1000 + len(df))))
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    code, out, err = cli(capsys, "train", "--data", path, *QUICK)
    assert code == 0, err
    assert (f"note     feature {name!r} is named like an identifier and holds a different "
            f"whole number in every row: --drop {shlex.quote(name)} if it is not a feature "
            "(kept as one)") in out, out
    assert "120 examples, 4 features" in out          # not dropped


@pytest.mark.parametrize("name, values", [
    ("f_idx", "distinct"),          # not named like an id
    ("user_id", "repeated"),        # a repeated value: not one per row
    ("user_id", "fractions"),       # not whole numbers
])
def test_no_id_note_otherwise(tmp_path, capsys, name, values):
    df = blobs()
    m = len(df)
    rng = np.random.default_rng(1)
    col = {"distinct": rng.permutation(np.arange(1000, 1000 + m)),
           "repeated": np.r_[1000, rng.permutation(np.arange(1000, 1000 + m - 1))],
           "fractions": rng.permutation(np.arange(m)) + 0.5}[values]
    df.insert(2, name, col)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    code, out, err = cli(capsys, "train", "--data", path, *QUICK)
    assert code == 0, err
    assert "named like an identifier" not in out, out


@pytest.mark.skipif(not fastbp.openmp_enabled(),
                    reason="a serial build runs --threads 2 on one thread: no note to give")
def test_a_run_slower_than_numpy_says_why_and_what_to_do(capsys, monkeypatch):
    """On a busy machine the CLI printed 'speed-up 0.0x over plain NumPy' and nothing
    else: the ratio keeps two significant digits below 0.1, and a note names the
    likely cause (the load on the cores) and --threads 1."""
    import fastbp.cli as fcli
    # fastbp 545.6 ms/epoch, NumPy 2.37 ms/epoch (the trial's run)
    monkeypatch.setattr(fcli, "_compare_speed",
                        lambda *a, **k: (0.5456, 0.00237, (0.0041, 0.0046), 5, 1))
    monkeypatch.setattr(fcli, "_load_average", lambda: 3.5)
    code, out, err = cli(capsys, "train", "--epochs", "2", "--threads", "2")
    assert code == 0, err
    text = out + err
    assert re.search(r"speed-up 0\.0043x over plain NumPy \(0\.0041x-0\.0046x over the 5 "
                     r"pairs\)", text), text
    assert re.search(r"note +fastbp ran slower than NumPy here on 2 threads: the load "
                     r"average is 3\.5 on \d+ cores\..*--threads 1", text), text
    # one thread, or fastbp faster: no note
    code, out, err = cli(capsys, "train", "--epochs", "2", "--threads", "1")
    assert code == 0 and "ran slower than NumPy" not in out + err
    monkeypatch.setattr(fcli, "_compare_speed",
                        lambda *a, **k: (0.001, 0.002, (1.9, 2.1), 5, 1))
    code, out, err = cli(capsys, "train", "--epochs", "2", "--threads", "2")
    assert code == 0 and "ran slower than NumPy" not in out + err
    assert "speed-up 2.0x over plain NumPy (1.9x-2.1x over the 5 pairs)" in out + err


# 9 ------------------------------------------- a fresh-user trial (2026-11-30 night)

@pytest.mark.parametrize("spec, meant", [("Target", "'target'"), ("targt", "'target'"),
                                         ("F0", "'f0'")])
def test_a_misspelt_column_gets_a_did_you_mean(tmp_path, capsys, spec, meant):
    """`--target Digit` listed the columns, 'digit' among '54 more': no hint."""
    df = blobs()
    for i in range(3, 60):
        df[f"extra{i}"] = 0.0
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    fail(capsys, 2, "train", "--data", path, "--target", spec,
         *QUICK, match=rf"--target '{spec}': no such column \(did you mean {meant}\?\); "
                       r"the columns are 'f0'")
    fail(capsys, 2, "train", "--data", path, "--target", "zzzz", *QUICK,
         match=r"--target 'zzzz': no such column; the columns are")


def test_text_row_labels_in_the_first_column_suggest_index_col(tmp_path, capsys):
    """`df.to_csv()` with an index of strings ('r0', 'r1', ...): the error said
    to --drop 'Unnamed: 0' and not that --index-col 0 sets it aside."""
    df = blobs()
    df.index = [f"r{i}" for i in range(len(df))]
    path = tmp_path / "d.csv"
    df.to_csv(path)
    fail(capsys, 1, "train", "--data", path, *QUICK,
         match=r"feature column 'Unnamed: 0' holds text .*pass --index-col 0$")
    code, out, err = cli(capsys, "train", "--data", path, "--index-col", "0", *QUICK)
    assert code == 0, err
    # repeated text is a feature column, not row labels: no such hint
    df2 = blobs()
    df2.insert(0, "colour", ["red", "blue"] * (len(df2) // 2))
    df2.to_csv(path, index=False)
    code, out, err = cli(capsys, "train", "--data", path, *QUICK)
    assert code == 1 and "holds text" in err and "--index-col" not in err, err


def test_predict_dropna_counts_one_row_in_the_singular(trained, tmp_path, capsys):
    path, model, df = trained
    new = df.iloc[:10].copy()
    new.loc[3, "f1"] = np.nan
    data, out_csv = tmp_path / "one.csv", tmp_path / "pred.csv"
    new.to_csv(data, index=False)
    code, out, err = cli(capsys, "predict", "--model", model, "--data", data, "--dropna",
                         "--out", out_csv)
    assert code == 0, err
    assert "(1 row left empty: --dropna)" in err + out, err + out


def test_a_transposed_file_is_told_to_be_transposed(tmp_path, capsys):
    """A table saved with examples as columns (df.T.to_csv()): --target 'target'
    said only 'no such column; the columns are 'Unnamed: 0', '0', '1', ...'."""
    df = blobs()
    path = tmp_path / "t.csv"
    df.T.to_csv(path)
    fail(capsys, 2, "train", "--data", path, "--target", "target", *QUICK,
         match=r"--target 'target': no such column, but 'target' labels a row: the file "
               r"looks transposed \(4 rows of 121 columns")
    df.T.to_csv(path, index=False)          # no labels to go by: the plain message
    fail(capsys, 2, "train", "--data", path, "--target", "target", *QUICK,
         match=r"--target 'target': no such column; the columns are")


def test_predict_mismatch_does_not_blame_an_unnamed_index(trained, tmp_path, capsys):
    """A file with a text index column ('Unnamed: 0') and a missing feature:
    the error listed the index as 'unexpected', a red herring."""
    path, model, df = trained
    new = df.drop(columns="f1").rename(columns={"f2": "F2"})
    new.index = [f"r{i}" for i in range(len(new))]
    data = tmp_path / "new.csv"
    new.to_csv(data)
    fail(capsys, 1, "predict", "--model", model, "--data", data,
         match=r"missing 'f1', 'f2'; unexpected 'F2' \(the model")


# 10 ------------------------------------------ a fresh-user trial (2026-12, B)

class _FullStdout:
    """A stdout that refuses every write, as /dev/full does."""

    def write(self, text):
        raise OSError(28, "No space left on device")

    def flush(self):
        pass


def test_a_failing_stdout_stops_a_run_with_nothing_else_to_write(tmp_path, capsys,
                                                                 monkeypatch):
    """A full stdout was an 'unexpected failure' (OSError) to be reported; train with
    no --save/--plot now stops at the first line it cannot print, before training,
    and with --save it trains, saves and then says so."""
    import sys
    from fastbp.network import Network
    df = blobs()
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    df.to_csv(path, index=False)
    fit = Network.fit
    fits = []
    monkeypatch.setattr(Network, "fit", lambda *a, **k: fits.append(1) or fit(*a, **k))
    monkeypatch.setattr(sys, "stdout", _FullStdout())
    full = r"^fastbp: error: cannot write to standard output: No space left on device"
    fail(capsys, 1, "train", "--data", path, *QUICK, match=full + "$")
    assert not fits
    fail(capsys, 1, "train", "--data", path, *QUICK, "--save", model,
         match=full + re.escape(f" (--save {model} written)") + "$")
    assert fits and model.exists()
    code, out, err = cli(capsys, "predict", "--model", model, "--data", path)
    assert code == 1 and re.search(full + "$", err.splitlines()[-1]), err
    assert "score" not in err, err


def test_a_warning_made_an_error_is_a_plain_error_not_a_bug(capsys, monkeypatch):
    """Under PYTHONWARNINGS=error, --threads beyond the cores said 'RuntimeWarning: ...
    (an unexpected failure; ... please report it)': the user chose to make it an error."""
    import warnings
    monkeypatch.delenv("FASTBP_DEBUG", raising=False)      # which shows the traceback
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fail(capsys, 1, "train", "--threads", "1000", *QUICK,
             match=r"^fastbp: error: " + re.escape(
                 f"n_threads=1000 is more than the {cores} cores this process can use: using "
                 f"{cores} (more threads than cores only slow the kernels down) "
                 "(RuntimeWarning made an error by PYTHONWARNINGS or python -W)") + "$")


def test_a_relative_path_in_a_deleted_directory_says_so(tmp_path, capsys, monkeypatch):
    """With the working directory removed (a shell left in a deleted folder),
    --save m.npz said 'FileNotFoundError: [Errno 2] No such file or directory (an
    unexpected failure; ... please report it)', naming neither the option nor the cause."""
    df = blobs()
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    train_saved(capsys, df, path, model)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    tail = (r": the current directory no longer exists \(was it deleted\?\): cd to an "
            r"existing directory, or give an absolute path$")
    for args, option in [(("train", "--data", path, "--save", "m.npz"), "--save 'm.npz'"),
                         (("train", "--data", path, "--plot", "p.png"), "--plot 'p.png'"),
                         (("predict", "--model", model, "--data", path, "--out", "o.csv"),
                          "--out 'o.csv'"),
                         (("predict", "--model", model, "--data", "d.csv"), "--data 'd.csv'")]:
        fail(capsys, 1, *args, *(QUICK if args[0] == "train" else ()),
             match="^fastbp: error: " + re.escape(option) + tail)
    # absolute paths do not need it
    code, out, err = cli(capsys, "predict", "--model", model, "--data", path, "--out",
                         tmp_path / "o.csv")
    assert code == 0 and (tmp_path / "o.csv").exists(), err


def _fifo_giving(path, data):
    """A named pipe at ``path`` and a thread writing ``data`` into it once it is opened."""
    import threading
    os.mkfifo(path)

    def write():
        try:
            with open(path, "wb") as f:
                f.write(data)
        except BrokenPipeError:
            pass
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def _release(path, writer):
    """Let a writer no one read from finish (a failed test must not hang)."""
    if writer.is_alive():
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_read_by_its_name_and_no_pipe_is_no_such_file(tmp_path, capsys):
    """--data /dev/stdin, --data <(cat f.csv) and a named pipe called x.csv all said
    "--data '...': no such file", though they exist."""
    df = blobs()
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    train_saved(capsys, df, path, model)
    code, plain, err = cli(capsys, "train", "--data", path, *QUICK)
    assert code == 0, err
    (tmp_path / "p").mkdir()
    fifo = tmp_path / "p" / "d.csv"
    writer = _fifo_giving(fifo, path.read_bytes())
    try:
        code, piped, err = cli(capsys, "train", "--data", fifo, *QUICK)
    finally:
        _release(fifo, writer)
    assert code == 0, err
    same = lambda out: [ln for ln in out.splitlines()          # noqa: E731
                        if not ln.startswith("trained")]
    assert same(piped) == same(plain) and "data     d.csv: 120 examples" in piped
    # predict too, --keep reading the file's text a second time
    fifo.unlink()
    writer = _fifo_giving(fifo, path.read_bytes())
    try:
        code, out, err = cli(capsys, "predict", "--model", model, "--data", fifo,
                             "--keep", "f0")
    finally:
        _release(fifo, writer)
    assert code == 0 and "score    accuracy" in err, err
    assert out == cli(capsys, "predict", "--model", model, "--data", path, "--keep",
                      "f0")[1]
    # a pipe whose name says no format (/dev/stdin, <(cmd)): what it is and what to do
    if not os.path.isdir("/dev/fd"):
        return
    read_end, write_end = os.pipe()
    try:
        stdin = f"/dev/fd/{read_end}"
        fail(capsys, 2, "train", "--data", stdin, *QUICK,
             match=rf"^fastbp: error: --data '{stdin}' is a pipe, not a file, and its name "
                   r"does not say the format: save what it gives to a file named like "
                   r"data\.csv \(or \.tsv, \.parquet, \.npz\) and give that file$")
        fail(capsys, 2, "predict", "--model", stdin, "--data", path,
             match=rf"^fastbp: error: --model '{stdin}' is a pipe, not a file: save what "
                   r"it gives to a file and give that file$")
    finally:
        os.close(read_end)
        os.close(write_end)
    fail(capsys, 2, "train", "--data", tmp_path / "nothing.csv", *QUICK,
         match=r"--data '.*nothing\.csv': no such file$")


def test_hidden_activations_not_matching_the_layers_name_both_options(capsys):
    """--hidden relu,tanh with the default one hidden layer: the error spoke of
    Network's argument 'hidden' and not of --layers, which sets the count."""
    fail(capsys, 2, "train", "--hidden", "relu,tanh", "--layers", "4,1", *QUICK,
         match=r"--hidden relu,tanh names 2 activations but --layers 4,1 has 1 hidden layer")


def test_ctrl_c_names_the_output_files_not_written(tmp_path, capsys, monkeypatch):
    """Ctrl-C printed "interrupted" alone, and a user went looking for the
    --save file; the files are written at the end, so the message now names
    those that were not (and not those that were)."""
    from fastbp import cli as cli_module
    data = tmp_path / "d.csv"
    blobs().to_csv(data, index=False)
    model, plot = tmp_path / "m.npz", tmp_path / "p.png"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "_train", interrupt)
    status, out, err = cli(capsys, "train", "--data", data, *QUICK, "--save", model)
    assert status == 130 and err.strip() == f"interrupted (--save {model} not written)", err
    assert not model.exists()
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(cli_module, "_plot", interrupt)
    status, out, err = cli(capsys, "train", "--data", data, *QUICK, "--save", model,
                           "--plot", plot)
    assert status == 130 and err.strip().endswith(
        f"interrupted (--plot {plot} not written or incomplete)"), err
    assert model.exists()
