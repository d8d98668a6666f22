"""examples/: the README says it "runs each notebook's flow with fastbp and with
plain NumPy side by side". Each script's --quick run must end with status 0
and print its speed-up line (nothing else ran them: a renamed course function
would have broken them silently). The three on 12288-feature images
(c1w4a1_step_by_step, c1w4a2_application, course_week4: 7-50 s each on 2 cores,
mostly their NumPy side) run the code tests/test_course*.py test and are left
to a manual run."""
import os
import pathlib
import subprocess
import sys

import pytest

import fastbp

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
QUICK = ["c1w3a1_planar", "c2w1a1_initialization",
         "c2w1a2_regularization", "c2w1a3_gradient_checking", "c2w2a1_optimization",
         "course_week3"]


def test_every_example_is_listed_here_or_left_out_on_purpose():
    if not EXAMPLES.is_dir():
        pytest.skip("examples/ is not beside the tests (an installed test run)")
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(QUICK) | {"c1w4a1_step_by_step", "c1w4a2_application",
                                       "course_week4"}


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_example_runs_quick(name, tmp_path):
    script = EXAMPLES / f"{name}.py"
    if not script.is_file():
        pytest.skip("examples/ is not beside the tests (an installed test run)")
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(pathlib.Path(fastbp.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, str(script), "--quick"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "speed-up" in r.stdout, r.stdout[-2000:]
