"""Helpers of the in-process command-line tests (tests/test_cli_data.py,
tests/test_cli_usability.py): run ``fastbp ...`` in this process, check a
one-line error, make a small labelled table and a model trained on it."""
import re

import numpy as np

from fastbp.cli import main

# train options of a quick run: quiet, no timing against NumPy, 3 epochs
QUICK = ("-q", "--no-compare", "--epochs", "3")


def cli(capsys, *args):
    """(exit status, stdout, stderr) of ``fastbp *args`` run in this process."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


def fail(capsys, status, *args, match):
    """Run ``fastbp *args``; it must fail with ``status`` and one line
    ``fastbp: error: ...`` matching ``match``. Returns its stdout."""
    code, out, err = cli(capsys, *args)
    assert code == status, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbp: error: "), err
    assert re.search(match, lines[0]), lines[0]
    return out


def blobs(m=300, n=4, k=3, seed=0):
    """A DataFrame of k well separated classes (column 'target') and n features f0..."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, m)
    X = rng.standard_normal((m, n)) + 4.0 * np.eye(k, n)[y]
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(n)])
    df["target"] = y
    return df


def train_saved(capsys, df, path, model):
    """Write df to the CSV ``path`` and save a model trained on it (QUICK) to ``model``."""
    df.to_csv(path, index=False)
    code, out, err = cli(capsys, "train", "--data", path, "--save", model, *QUICK)
    assert code == 0, (out, err)
