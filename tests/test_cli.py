"""`fastbp` command line, run end to end in subprocesses."""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastbp

# The subprocesses import the very fastbp this test process imported (an
# installed wheel or an in-place build), and run outside the source tree so
# an unbuilt source checkout in the working directory cannot shadow it.
FASTBP_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastbp.__file__)))


@pytest.fixture(scope="module", autouse=True)
def workdir(tmp_path_factory):
    """The subprocesses' working directory: pytest's, so no run leaves files behind."""
    global WORKDIR
    WORKDIR = str(tmp_path_factory.mktemp("fastbp-cli"))
    with open(os.path.join(WORKDIR, "notes.md"), "w") as f:
        f.write("# not a data file\n")
    return WORKDIR


def run(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = FASTBP_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "fastbp", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=WORKDIR)


@pytest.mark.slow
def test_train_planar_end_to_end(tmp_path):
    ck = tmp_path / "planar.npz"
    r = run("train", "--epochs", "2000", "--compare-budget", "0.3", "--save", str(ck))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "planar" in out and "Network([2, 4, 1], hidden='tanh', output='sigmoid'" in out
    acc = float(re.search(r"accuracy ([\d.]+)%", out).group(1))
    assert acc >= 88.0, out
    assert re.search(r"fastbp +[\d.]+ ms/epoch", out), out
    assert re.search(r"numpy +[\d.]+ ms/epoch", out), out
    assert re.search(r"speed-up [\d.]+x over plain NumPy", out), out
    # interleaved, warmed-up repeats, their median and spread (one timing varied 2.3x-11.9x)
    assert re.search(r"fastbp +[\d.]+ ms/epoch +\| median of \d+ interleaved timings", out), out
    assert re.search(r"over plain NumPy \([\d.]+x-[\d.]+x over the \d+ pairs\)", out), out
    from fastbp.network import Network
    from fastbp.datasets import load_planar_dataset
    net = Network.load(ck)
    X, Y = load_planar_dataset()
    assert net.evaluate(X, Y)[1] == pytest.approx(acc / 100, abs=1e-4)


@pytest.mark.slow
def test_train_csv_softmax_quiet(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    path = tmp_path / "data.csv"
    with open(path, "w") as f:
        f.write("a,b,label,c\n")
        for row, lab in zip(X, y):
            f.write(f"{row[0]},{row[1]},{lab},{row[2]}\n")
    r = run("train", "--data", str(path), "--label-column", "label", "--layers", "16,3",
            "--epochs", "15", "--batch-size", "32", "--optimizer", "adam", "--lr", "0.01",
            "--threads", "1", "--no-compare", "-q")
    assert r.returncode == 0, r.stderr
    assert "240 examples, 3 features, 3 classes" in r.stdout
    assert "output='softmax'" in r.stdout
    acc = float(re.search(r"accuracy ([\d.]+)%", r.stdout).group(1))
    assert acc > 70.0, r.stdout


@pytest.mark.slow
def test_train_npz_rows_layout(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 4))
    y = (X.sum(axis=1) > 0).astype(np.int64)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    r = run("train", "--data", str(path), "--epochs", "5", "--no-compare", "-q")
    assert r.returncode == 0, r.stderr
    assert "150 examples, 4 features, 2 classes" in r.stdout


@pytest.mark.parametrize("args,match", [
    (["train", "--data", "/nonexistent/file.csv"], "no such file"),
    (["train", "--layers", "4,3"], "labels need 1"),
    (["train", "--layers", "4,x"], "comma-separated ints"),
    (["train", "--data", "notes.md"], r"\.csv .* or a \.npz"),
])
def test_train_errors(args, match):
    r = run(*args)
    assert r.returncode == 2
    assert re.search(match, r.stderr), r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_plot_needs_matplotlib_or_writes_png(tmp_path):
    png = tmp_path / "p.png"
    r = run("train", "--epochs", "50", "--no-compare", "-q", "--plot", str(png))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert r.returncode == 2 and "pip install matplotlib" in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_info():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^fastbp \d+\.\d+", r.stdout)
    assert "OpenMP" in r.stdout and "n_threads=None ->" in r.stdout
    assert "BLAS" in r.stdout and "library" in r.stdout


@pytest.mark.parametrize("limit", [0, 16384, (16384, 262144)])
def test_info_says_in_words_where_small_products_run(limit):
    """The small-GEMM line read 'small GEMM m*n*k <= 0 in fastbp's kernel' when the
    limit is 0 (every product in BLAS, the default on OpenBLAS's AVX-512 cores)."""
    import io

    from fastbp import _blas, _config, _testing

    old = _testing.set_small_gemm_max(limit)
    old_narrow = _blas._set_small_gemm_narrow_max(2 ** 27)    # its Haswell/Zen default
    try:
        buf = io.StringIO()
        info = _config.show_config(file=buf)
    finally:
        _blas._set_small_gemm_narrow_max(old_narrow)
        _testing.set_small_gemm_max(old)
    n, mid = limit if isinstance(limit, tuple) else (limit, limit)
    assert info["small_gemm_max"] == n              # what it measures is unchanged
    assert info["small_gemm_mid_max"] == mid
    line = next(ln for ln in buf.getvalue().splitlines() if "small GEMM" in ln)
    assert "<= 0" not in line and "m*n*k <=" not in line, line
    # the AVX-512 cores' mid-size rule (on with their limits, where it runs)
    switch = _blas._set_mid512(False)       # read the rule's switch, and put it back
    _blas._set_mid512(switch)
    assert info["small_gemm_mid512"] == (switch and mid == n)
    assert ("fastbp's own AVX-512 kernel" in line) == info["small_gemm_mid512"], line
    if limit == 0:
        assert ("off: every matrix product runs in BLAS" in line) != info["small_gemm_mid512"]
        if _blas.blas_small_matrix_path():
            assert f"{_blas.BLAS_CORENAME} core" in line, line
    elif mid == n:
        assert ("on: products of up to 16384 multiply-adds (m*n*k) run in fastbp's own "
                "kernel, larger ones in BLAS") in line, line
    else:
        assert info["small_gemm_narrow_max"] > mid
        assert ("on: products of up to 16384 multiply-adds (m*n*k) run in fastbp's own "
                "kernel, those of up to 262144 whose shape suits its register tiles, and "
                f"products of up to {info['small_gemm_narrow_max']} with a whole number "
                "of AVX2 vectors of columns (A B: 1-4, or up to 8 while B fits 128 KiB; "
                "A^T B: 1-2 while A spans at most 2 MiB); the others in BLAS"
                ) in line, line
    if mid == n:
        assert info["small_gemm_narrow_max"] == 0   # only with the mid-size rule


def test_no_command_is_a_usage_error():
    """`fastbp` alone is a usage error, as argparse's missing required argument or
    git's missing command: the help on stderr (nothing on stdout), status 2."""
    r = run()
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("usage: fastbp") and "train" in r.stderr and "info" in r.stderr
    assert "fastbp: error: a command is required" in r.stderr


@pytest.mark.slow
def test_data_error_is_one_line_status_1(tmp_path):
    """The console entry point, not only main(): a NaN feature stops with one line."""
    pytest.importorskip("pandas")
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,0\n3,nan,1\n4,5,0\n6,7,1\n")
    r = run("train", "--data", str(path), "--no-compare", "-q")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.strip() == ("fastbp: error: missing values (NA, empty or NaN) in 1 row "
                                "(line 3) of column 'b': fill them in, drop those columns with "
                                "--drop, or drop those rows with --dropna")


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fastbp {fastbp.__version__}"


def test_info_shows_fastbp_variables_and_flags_a_dispatch_it_ignores(monkeypatch):
    """The fresh-user trial set FASTBP_DISPATCH=AVX2 (ignored: fastbp reads lower
    case) and `fastbp info` said nothing, not even that the variable was set."""
    import io

    from fastbp import _config
    monkeypatch.setenv("FASTBP_DISPATCH", "AVX2")
    monkeypatch.setenv("FASTBP_NUMPY_POOL", "0")
    buf = io.StringIO()
    _config.show_config(file=buf)
    out = buf.getvalue()
    assert "FASTBP_DISPATCH=AVX2" in out and "FASTBP_NUMPY_POOL=0" in out, out
    assert "FASTBP_DISPATCH='AVX2' is ignored" in out, out
    monkeypatch.setenv("FASTBP_DISPATCH", "avx2")
    buf = io.StringIO()
    _config.show_config(file=buf)
    assert "is ignored" not in buf.getvalue() and "FASTBP_DISPATCH=avx2" in buf.getvalue()


@pytest.mark.parametrize("value,warns", [("AVX2", True), ("sse", True), ("", True),
                                         ("avx2", False), ("baseline", False),
                                         ("avx512", False), (None, False)])
def test_import_warns_of_a_dispatch_value_the_kernels_ignore(value, warns):
    """FASTBP_DISPATCH=bogus ran the widest clones without a word unless the
    user thought of `fastbp info`: a benchmark of the AVX2 path measured AVX-512."""
    env = {k: v for k, v in os.environ.items() if k != "FASTBP_DISPATCH"}
    if value is not None:
        env["FASTBP_DISPATCH"] = value
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", "import fastbp"],
                       env=env, capture_output=True, text=True)
    assert (r.returncode != 0) == warns, r.stderr
    if warns:
        assert f"FASTBP_DISPATCH={value!r} is ignored" in r.stderr, r.stderr


@pytest.mark.parametrize("value,warns", [("yes", True), ("true", True), ("", True),
                                         ("0", False), ("1", False), (None, False)])
def test_import_warns_of_a_sqrt_on_fma_value_the_kernels_ignore(value, warns):
    """FASTBP_SQRT_ON_FMA=yes was ignored silently (the fresh-user trial): the
    kernels read only 0 and 1. `fastbp info` says where the roots run."""
    env = {k: v for k, v in os.environ.items() if k != "FASTBP_SQRT_ON_FMA"}
    if value is not None:
        env["FASTBP_SQRT_ON_FMA"] = value
    code = ("import fastbp, io; b = io.StringIO(); fastbp.show_config(file=b); "
            "print(b.getvalue())")
    r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code],
                       env=env, capture_output=True, text=True)
    assert (r.returncode != 0) == warns, r.stderr
    if warns:
        assert f"FASTBP_SQRT_ON_FMA={value!r} is ignored" in r.stderr, r.stderr
        return
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("Adam sqrt"))
    if value is not None:    # the override holds where the AVX-512 clone runs
        simd = next(x for x in r.stdout.splitlines() if x.strip().startswith("SIMD"))
        want = "fma" if value == "1" and "avx512" in simd else "divider"
        assert line.split()[2] == want, (line, simd)


def test_the_dispatch_warning_names_the_users_import_line(tmp_path):
    """The warning named fastbp/__init__.py's import of its own module: the
    user's line (the script's ``import fastbp``) is where the fix goes."""
    script = tmp_path / "train_me.py"
    script.write_text("import numpy\nimport fastbp\n")
    env = {**os.environ, "FASTBP_DISPATCH": "AVX2"}
    r = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"{script}:2: RuntimeWarning: FASTBP_DISPATCH='AVX2'"), r.stderr


def test_info_aligns_the_thread_pools_columns(monkeypatch):
    """NumPy's OpenBLAS version '0.3.31.188.0' pushed its 'kernel=' column out of
    line with SciPy's, and OpenMP's missing version and kernel read 'None'."""
    import io

    from fastbp import _config
    info = _config.config_info()
    pool = dict(internal_api="openblas", user_api="blas", num_threads=2, used_by_fastbp=False)
    info["threadpools"] = [
        dict(pool, version="0.3.31.188.0", architecture="SkylakeX", filepath="/a.so"),
        dict(pool, version=None, architecture=None, internal_api="openmp", filepath="/b.so"),
        dict(pool, version="0.3.30", architecture="Haswell", filepath="/c.so",
             used_by_fastbp=True),
    ]
    monkeypatch.setattr(_config, "config_info", lambda: info)
    buf = io.StringIO()
    _config.show_config(file=buf)
    lines = [ln for ln in buf.getvalue().splitlines() if " kernel=" in ln]
    assert len(lines) == 3, buf.getvalue()
    for col in ("kernel=", "threads=", "/"):
        assert len({ln.index(col) for ln in lines}) == 1, (col, lines)
    assert "None" not in lines[1] and "kernel=-" in lines[1], lines[1]
    assert lines[2].endswith("/c.so  <- fastbp"), lines[2]


def _progress_lines(text):
    """The progress display's lines that show metrics: one per shown epoch
    ("epoch 3/3  loss ..."), or tqdm's bar where tqdm is installed (its
    final refresh, "epoch: 100%|...| 3/3 [..., loss=..., val_loss=...]")."""
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if ln.startswith("epoch")]
    if importlib.util.find_spec("tqdm") is None:
        assert len(lines) == 3 and all(ln.startswith("epoch ") for ln in lines), text
        return lines
    return [ln for ln in lines if "loss=" in ln][-1:]


@pytest.mark.slow
def test_regression_run_shows_no_accuracy_and_a_readable_duration(tmp_path):
    """A regression's progress lines read 'val_accuracy nan', its plot hint offered
    a 'decision boundary', and a fit of a few milliseconds read '0.00 s'."""
    pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    path = tmp_path / "reg.csv"
    path.write_text("a,b,y\n" + "".join(f"{u:.6f},{v:.6f},{2 * u - v:.6f}\n" for u, v in X))
    r = run("train", "--data", str(path), "--target", "y", "--epochs", "3", "--no-compare")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr                       # progress goes to stderr
    epochs = _progress_lines(out)
    assert epochs and all("val_loss" in ln for ln in epochs), out
    assert "accuracy" not in out and "nan" not in out, out
    assert "the fitted surface" in r.stdout and "decision boundary" not in r.stdout, r.stdout
    trained = next(ln for ln in r.stdout.splitlines() if ln.startswith("trained"))
    assert re.match(r"trained  3 epochs in \d+(\.\d+)? (ms|s) \(", trained), trained
    assert " 0.00 s" not in trained, trained


@pytest.mark.slow
def test_classification_run_still_shows_accuracy_and_decision_boundary(tmp_path):
    pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    path = tmp_path / "cls.csv"
    path.write_text("a,b,y\n" + "".join(f"{u:.6f},{v:.6f},{'yes' if u > v else 'no'}\n"
                                        for u, v in X))
    r = run("train", "--data", str(path), "--target", "y", "--epochs", "3", "--no-compare")
    assert r.returncode == 0, r.stderr
    epochs = _progress_lines(r.stderr)
    assert epochs and all("val_accuracy" in ln for ln in epochs), r.stderr
    assert "and the decision boundary" in r.stdout, r.stdout


def _closed_pipe_run(args, stderr_too=False):
    """Run ``fastbp *args`` with stdout (and with ``stderr_too`` stderr, as
    ``2>&1 | head``) a pipe whose reader is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = dict(os.environ, PYTHONUNBUFFERED="1",  # every line reaches the pipe at once
               PYTHONPATH=FASTBP_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        return subprocess.run([sys.executable, "-m", "fastbp", *args], stdout=write_end,
                              stderr=write_end if stderr_too else subprocess.PIPE,
                              text=True, timeout=120, env=env, cwd=WORKDIR)
    finally:
        os.close(write_end)


@pytest.mark.slow
def test_reader_leaving_stderr_too_still_saves_and_exits_0(tmp_path):
    """`fastbp train ... 2>&1 | head -1` stopped at the first note printed after
    the reader left (status 1, no model saved); `fastbp info | head -1` ended
    with status 1."""
    model = tmp_path / "m.npz"
    r = _closed_pipe_run(["train", "--epochs", "3", "--no-compare", "--save", str(model)],
                         stderr_too=True)
    assert r.returncode == 0 and model.exists(), r.returncode
    assert _closed_pipe_run(["info"]).returncode == 0


@pytest.mark.slow
def test_predict_whose_reader_left_still_scores_and_exits_0(tmp_path):
    """`fastbp predict ... | head -1` ended with status 1 and no score line."""
    pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 2))
    path, model = tmp_path / "d.csv", tmp_path / "m.npz"
    path.write_text("a,b,y\n" + "".join(f"{u:.6f},{v:.6f},{int(u > v)}\n" for u, v in X))
    r = run("train", "--data", str(path), "--target", "y", "--epochs", "3", "--no-compare",
            "-q", "--save", str(model))
    assert r.returncode == 0, r.stderr
    r = _closed_pipe_run(["predict", "--model", str(model), "--data", str(path)])
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "error" not in r.stderr, r.stderr
    assert re.search(r"^score .*accuracy", r.stderr, re.M), r.stderr


@pytest.mark.slow
def test_train_whose_reader_left_still_saves_the_model_and_plot(tmp_path):
    """`fastbp train --save m.npz | head -2`: the pipe closed before the report
    ended stopped the run (exit 1, nothing said) before --save was written."""
    model, plot = tmp_path / "m.npz", tmp_path / "p.png"
    args = ["train", "--epochs", "3", "--save", str(model)]
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(plot)]
    except ImportError:
        plot = None
    r = _closed_pipe_run(args)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "error" not in r.stderr, r.stderr
    assert model.exists(), "the model was not saved"
    assert fastbp.Network.load(model).layer_dims[0] == 2
    assert plot is None or plot.exists()


def _unwritable_stdout_run(args, stdout, stderr_too=False):
    """Run ``fastbp *args`` with stdout ``"closed"`` (``>&-``) or a file object
    (``/dev/full``); with ``stderr_too`` stderr closed as well."""
    def close():
        os.close(1)
        if stderr_too:
            os.close(2)
    closed = stdout == "closed"
    env = dict(os.environ, PYTHONPATH=FASTBP_PARENT + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "fastbp", *args],
                          stdout=subprocess.DEVNULL if closed else stdout,
                          stderr=subprocess.DEVNULL if stderr_too else subprocess.PIPE,
                          preexec_fn=close if closed else None, text=True, timeout=120,
                          env=env, cwd=WORKDIR)


@pytest.mark.slow
def test_unwritable_stdout_is_one_line_status_1_and_out_is_still_written(tmp_path):
    """`fastbp predict ... >&-` said 'TypeError: argument 1 must have a "write" method
    (an unexpected failure; ... please report it)', and predict, train and info on a
    full stdout (/dev/full) an OSError 'unexpected failure'."""
    pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((400, 2))
    path, model, out = tmp_path / "d.csv", tmp_path / "m.npz", tmp_path / "p.csv"
    path.write_text("a,b,y\n" + "".join(f"{u:.6f},{v:.6f},{int(u > v)}\n" for u, v in X))
    r = run("train", "--data", str(path), "--target", "y", "--epochs", "3", "--no-compare",
            "-q", "--save", str(model))
    assert r.returncode == 0, r.stderr
    closed = ("fastbp: error: cannot write to standard output: it is closed (>&-): redirect "
              "it to a file or to /dev/null instead")
    predict = ["predict", "--model", str(model), "--data", str(path)]
    r = _unwritable_stdout_run(predict, "closed")
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == closed, r.stderr
    assert "model    m.npz" in r.stderr and "score" not in r.stderr, r.stderr
    # --out is written all the same; the report that went to stdout is lost
    r = _unwritable_stdout_run(predict + ["--out", str(out)], "closed")
    assert r.returncode == 1 and r.stderr == f"{closed} (--out {out} written)\n", r.stderr
    assert len(out.read_text().splitlines()) == 401
    # stderr closed too: nothing to say it with, status 1
    r = _unwritable_stdout_run(predict, "closed", stderr_too=True)
    assert r.returncode == 1
    if not os.path.exists("/dev/full"):
        return
    full = "fastbp: error: cannot write to standard output: No space left on device"
    saved = tmp_path / "planar.npz"
    with open("/dev/full", "w") as dev_full:
        for args, written in [(predict, ""), (["info"], ""),
                              (["train", "--epochs", "3", "--no-compare", "--save",
                                str(saved)], f" (--save {saved} written)")]:
            r = _unwritable_stdout_run(args, dev_full)
            assert r.returncode == 1, (args, r.stderr)
            assert r.stderr.splitlines()[-1] == full + written, (args, r.stderr)
            assert "unexpected" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert fastbp.Network.load(saved).layer_dims[0] == 2
