"""Second fresh-user trial of the command line: each test is one finding.

Run in-process like tests/test_cli_data.py: every failure is one line
``fastbp: error: ...`` with status 1 (the data) or 2 (the options).
"""
import re

import numpy as np
import pytest

from fastbp.cli import main

pd = pytest.importorskip("pandas")

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
    code, out, err = cli(capsys, *args)
    assert code == status, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastbp: error: "), err
    assert re.search(match, lines[0]), lines[0]
    return out


def blobs(m=120, n=3, k=2, seed=0):
    """A DataFrame of k separated classes (column 'target') and n features f0.."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, m)
    X = rng.standard_normal((m, n)) + 4.0 * np.eye(k, n)[y]
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(n)])
    df["target"] = y
    return df


@pytest.fixture
def trained(tmp_path, capsys):
    """(data path, model path, DataFrame) of a small model saved by fastbp train --save."""
    df = blobs()
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    df.to_csv(path, index=False)
    assert cli(capsys, "train", "--data", path, "--save", model, *QUICK)[0] == 0
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
