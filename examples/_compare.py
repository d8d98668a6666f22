"""Run one notebook flow with several course implementations and compare them.

Used by the examples: each hands a flow (a function of a course namespace,
printing what the notebook prints) and the namespaces to run it with; this
times each run, captures what it printed, and prints the runs side by side.
"""
import io
import time
from contextlib import redirect_stdout


def timed(flow, course, *args):
    """(seconds, printed lines, returned value) of ``flow(course, *args)``."""
    out = io.StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(out):
        result = flow(course, *args)
    return time.perf_counter() - t0, out.getvalue().splitlines(), result


def report(runs, width=24):
    """Print the runs ({name: timed(...)}) side by side: each printed line's
    label once and every run's value, the returned {label: number} values,
    the times and the speed-ups over the first run."""
    names = list(runs)
    first = runs[names[0]]
    print(f"{'':40s}" + "".join(f"{n:>{width}s}" for n in names))
    for i, line in enumerate(first[1]):
        label = line.rsplit(":", 1)[0]
        values = [r[1][i].rsplit(":", 1)[1].strip() if i < len(r[1]) else "-"
                  for r in runs.values()]
        print(f"{label:40s}" + "".join(f"{v:>{width}s}" for v in values))
    for key in (first[2] or {}):
        print(f"{key:40s}" + "".join(f"{r[2][key]:>{width - 1}.2f}%" for r in runs.values()))
    print(f"{'time for the whole flow':40s}"
          + "".join(f"{r[0]:>{width - 1}.2f}s" for r in runs.values()))
    for n in names[1:]:
        print(f"{'speed-up of ' + n:40s}{first[0] / runs[n][0]:>{width - 1}.1f}x")
