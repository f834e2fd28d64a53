"""Helpers of the watcher's tests: simulated raw files written slowly into a watched folder,
the way a beamline camera writes them (the file grows image by image)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import h5py

SMALL = dict(phantom="shepp", nangles=91, nslices=8, nrays=64, cor=33.3, seed=5, rings=0.0)


def simulate(folder: Path, name: str, layout: str, **kw) -> Path:
    """A complete simulated scan ``folder/name`` (no truth file)."""
    from alsmicroct.sim import simulate_scan

    folder.mkdir(parents=True, exist_ok=True)
    return Path(simulate_scan(folder / name, layout=layout, write_truth=False, **{**SMALL, **kw}).path)


def _copy_attrs(src, dst) -> None:
    for key, value in src.attrs.items():
        dst.attrs[key] = value


def write_slowly(src: Path, dst: Path, *, delay: float = 0.02, pause: float = 0.0, done: Path | None = None) -> None:
    """Copy the raw scan ``src`` to ``dst`` image by image, flushing after each one.

    Old layout: the group and its attributes first, then the projections, then the flats,
    then the darks (each a new dataset). Data Exchange: every dataset created at its full
    size first, then filled image by image. The writer stops for ``pause`` seconds halfway
    through the projections and after them (a camera waiting for the stage: the file is
    unchanged but incomplete). ``done`` (optional) is touched afterwards.
    """
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        _copy_attrs(fin, fout)
        if "exchange" in fin:
            big = {}

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    if name.startswith("exchange/data"):
                        big[name] = fout.create_dataset(name, shape=obj.shape, dtype=obj.dtype)
                    else:
                        fin.copy(obj, fout.require_group(str(Path(name).parent)), name=Path(name).name)

            fin.visititems(visit)
            fout.flush()
            for name in ("exchange/data", "exchange/data_white", "exchange/data_dark"):
                n = fin[name].shape[0]
                for i in range(n):
                    big[name][i] = fin[name][i]
                    fout.flush()
                    time.sleep(pause if name == "exchange/data" and i in (n // 2, n - 1) else delay)
        else:
            (gname,) = [k for k in fin if isinstance(fin[k], h5py.Group)]
            gin, gout = fin[gname], fout.create_group(gname)
            _copy_attrs(gin, gout)
            fout.flush()
            names = sorted(gin, key=lambda n: ("bak" in n, "drk" in n, n))
            nproj = sum(1 for n in names if "bak" not in n and "drk" not in n)
            for i, n in enumerate(names):
                fin.copy(gin[n], gout, name=n)
                fout.flush()
                time.sleep(pause if i in (nproj // 2, nproj - 1) else delay)
    if done is not None:
        done.touch()


def write_slowly_process(src: Path, dst: Path, *, delay: float = 0.02, pause: float = 0.0) -> subprocess.Popen:
    """:func:`write_slowly` in another process (as a camera writer is)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from watch_util import write_slowly; "
        "write_slowly(__import__('pathlib').Path(sys.argv[2]), __import__('pathlib').Path(sys.argv[3]), "
        "delay=float(sys.argv[4]), pause=float(sys.argv[5]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(src), str(dst), str(delay), str(pause)]
    )
