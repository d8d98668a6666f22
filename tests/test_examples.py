"""examples/: the README says it "runs each notebook's flow with fastbp and with
plain NumPy side by side". Each script's --quick run must end with status 0
and print its speed-up line (nothing else ran them: a renamed course function
would have broken them silently). The three on 12288-feature images
(c1w4a1_step_by_step, c1w4a2_application, course_week4: 7-140 s each with
--quick on 2 cores, mostly their NumPy side) run here with --iterations 3:
the flow, not the training, is what can break unseen."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastbp

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
QUICK = ["c1w3a1_planar", "c2w1a1_initialization",
         "c2w1a2_regularization", "c2w1a3_gradient_checking", "c2w2a1_optimization",
         "course_week3"]
IMAGES = ["c1w4a1_step_by_step", "c1w4a2_application", "course_week4"]


def test_every_example_is_listed_here_or_left_out_on_purpose():
    if not EXAMPLES.is_dir():
        pytest.skip("examples/ is not beside the tests (an installed test run)")
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(QUICK) | set(IMAGES)


def run_example(name, cwd, *args):
    """Run examples/NAME.py ARGS against the fastbp under test; its stdout."""
    script = EXAMPLES / f"{name}.py"
    if not script.is_file():
        pytest.skip("examples/ is not beside the tests (an installed test run)")
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pathlib.Path(fastbp.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "speed-up" in r.stdout, r.stdout[-2000:]
    return r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_example_runs_quick(name, tmp_path):
    run_example(name, tmp_path, "--quick")


@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGES)
def test_image_example_runs_a_few_iterations(name, tmp_path):
    out = run_example(name, tmp_path, "--iterations", "3")
    assert "synthetic" in out or name != "c1w4a2_application", out[-2000:]


@pytest.mark.slow
def test_application_example_reads_the_course_files(tmp_path):
    """--datasets DIR with the course's two h5 files (64 x 64 x 3 photos, as
    the notebook's): the flow trains on them, not on synthetic data."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    folder = tmp_path / "course-data"
    folder.mkdir()
    for split, m in (("train", 6), ("test", 4)):
        with h5py.File(folder / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)
            f[f"{split}_set_y"] = np.arange(m) % 2
            f["list_classes"] = np.array([b"non-cat", b"cat"], dtype="S7")
    out = run_example("c1w4a2_application", tmp_path, "--iterations", "3",
                      "--datasets", str(folder))
    assert f"the course's data from {folder}" in out, out[:2000]
    assert "synthetic" not in out, out[:2000]
