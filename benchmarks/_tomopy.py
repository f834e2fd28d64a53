"""TomoPy references for the benchmarks: timed in the same run, or a labelled recorded figure.

With ``--tomopy-python`` (the interpreter of a TomoPy venv, see ``build_tomopy.sh``), a
benchmark times the TomoPy function in a child process of that interpreter, on data of the
same shape and dtype built there (seeded random values; the cost does not depend on them),
so the TomoPy figure and the alsmicroct figure come from the same run on the same load.
Without it, the figure printed is a constant, always labelled
``recorded figure (source, date)``.
"""

from __future__ import annotations

import json
import subprocess

__all__ = ["SOURCE", "add_argument", "recorded", "time_tomopy"]

#: where the recorded TomoPy constants come from (their origin was not written down)
SOURCE = "alsmicroct commit cd5c86a benchmarks, origin not recorded, 2026-11-25"

_CHILD = r"""
import json, os, sys, time
import numpy as np
import tomopy
shape, repeat = tuple(json.loads(sys.argv[1])), int(sys.argv[2])
ncore = os.cpu_count()
data = np.random.default_rng(0).random(shape, dtype=np.float32) + np.float32(0.5)
call = eval("lambda data, ncore: " + sys.argv[3], {"tomopy": tomopy, "np": np})
call(data[:, :2, :64].copy() if data.ndim == 3 else data, ncore)   # warm-up
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    call(data, ncore)
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def add_argument(parser) -> None:
    """Add ``--tomopy-python`` to a benchmark's argument parser."""
    parser.add_argument(
        "--tomopy-python",
        default=None,
        help="python of a TomoPy venv (benchmarks/build_tomopy.sh): time TomoPy in "
        "this run; without it the TomoPy figure is a labelled recorded one",
    )


def time_tomopy(python: str, shape: tuple[int, ...], expr: str, repeat: int) -> list[float]:
    """Seconds of ``expr`` (a TomoPy call on ``data`` of ``shape``, float32, with ``ncore``)
    per repetition, run by the TomoPy interpreter ``python``."""
    proc = subprocess.run(
        [python, "-c", _CHILD, json.dumps(list(shape)), str(repeat), expr], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{python}: TomoPy reference {expr!r} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def recorded(value: float, what: str) -> str:
    """``value`` labelled as a recorded figure, not measured in this run."""
    return f"{value:.3f} s {what}: recorded figure ({SOURCE}), not measured in this run"
