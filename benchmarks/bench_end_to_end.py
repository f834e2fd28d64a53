"""End-to-end benchmarks of recon(), each figure a ratio to a reference timed in the same run.

Cases (``--cases``, default all):

- ``small``: a 640-column, 12-row, 1000-projection old-layout scan, ``recon(cor=None,
  corFunction="pc")`` with FW ring removal and the quick-look, in a fresh process each run
  (interpreter start and imports included, timed by this script around the subprocess).
  With ``--tomopy-python`` (``benchmarks/build_tomopy.sh``), TomoPy's legacy pipeline
  (read, normalize, minus_log, remove_stripe_fw, find_center_pc, gridrec, circ_mask, write
  TIFFs) runs on the same file in the same run, alternating with alsmicroct.
- ``full``: 2048 columns x 1313 projections, 64/128/256 rows (``--rows``): recon() wall time
  (given centre, FW on, no quick-look) over the wall time of the same compute steps run
  alone in the same process on the same rows, chunk by chunk, with the same thread count
  (normalize + minus_log, remove_stripe_fw, gridrec, scale and mask; the raw rows read
  beforehand, not timed). Target <= 1.15.
- ``memory``: peak RSS (ru_maxrss, and a 10 ms sampling thread) of recon() in a fresh
  process at 64 and 512 rows (``--memory-rows``) with ``chunk_sino=16``; growth target <= 2 %.
- ``preview``: a 2048-column, 1969-projection scan, ``sinoused=(-1, 4, 1)``, pc centre, fresh
  process. Target <= 2 s.

Every timed case runs ``--repeat`` times (default 5) and prints best and median, the load
average before and after, and the ratio to its reference of the same run. Raw files are
simulated once into ``--dir`` (default a temporary folder) and reused when present.

Usage::

    python benchmarks/bench_end_to_end.py --cases small --tomopy-python /work/tomopy-venv/bin/tomopy-python
    python benchmarks/bench_end_to_end.py --cases full memory preview --dir /tmp/e2e
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECON_CHILD = r"""
import json, resource, sys, threading, time
t0 = time.perf_counter()
import psutil
from alsmicroct.reconstruction import recon
kw = json.loads(sys.argv[3])
peak = [0]
stop = threading.Event()
def sample():
    proc = psutil.Process()
    while not stop.wait(0.01):
        peak[0] = max(peak[0], proc.memory_info().rss)
threading.Thread(target=sample, daemon=True).start()
res = recon(sys.argv[1], outputPath=sys.argv[2], resume=False, **kw)
wall = time.perf_counter() - t0
stop.set()
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# the run's own model of one block's memory (alsmicroct.memory), computed after the run
from pathlib import Path
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.execute import check_plan_memory
from alsmicroct.pipeline.prepare import prepare
raw = Path(sys.argv[1])
fields = set(ReconParams.field_names())
params = ReconParams.from_mapping(
    {**{k: v for k, v in kw.items() if k in fields}, "memoryCheck": "warn"}, inputPath=str(raw.parent)
)
est = check_plan_memory(prepare(raw.name, params, center=False), available=1 << 60)
print(json.dumps({"wall": wall, "cor": res.cor, "nfiles": len(res.files), "sampled_peak": peak[0],
                  "maxrss": maxrss, "block_estimate": est.total, "block_rows": est.rows}))
"""

PROFILE_CHILD = r"""
import cProfile, io, json, pstats, sys, time
t0 = time.perf_counter()
prof = cProfile.Profile()
prof.enable()
from alsmicroct.reconstruction import recon
res = recon(sys.argv[1], outputPath=sys.argv[2], resume=False, **json.loads(sys.argv[3]))
prof.disable()
text = io.StringIO()
stats = pstats.Stats(prof, stream=text).sort_stats("cumulative")
stats.print_stats(r"alsmicroct/(pipeline|engine|prep|post|io)/[a-z_]+\.py:\d+\((?!<)", int(sys.argv[4]))
print("\n".join(line for line in text.getvalue().splitlines() if "alsmicroct/" in line and "List reduced" not in line))
print(f"profiled wall (cProfile slows Python-heavy parts) {time.perf_counter() - t0:.2f} s; timings {res.timings}")
"""

COMPUTE_CHILD = r"""
import json, sys, time
import numpy as np
from alsmicroct.reconstruction import recon
from alsmicroct import engine, post, prep
from alsmicroct.io import open_scan
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.prepare import prepare
path, out, kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t0 = time.perf_counter()
recon(path, outputPath=out, resume=False, **kw)
wall = time.perf_counter() - t0
p = ReconParams.from_mapping({k: v for k, v in kw.items() if k != "quicklook"})  # a recon() option, not a parameter
plan = prepare(path, p)
rows = plan.rows
with open_scan(path) as scan:
    blocks = []
    for s in range(0, rows.size, p.chunk_sino):
        spec = (int(rows[s]), int(rows[min(rows.size, s + p.chunk_sino) - 1]) + 1, 1)
        blocks.append((scan.read_projections(rows=spec), scan.read_flats(rows=spec), scan.read_darks(rows=spec)))
t0 = time.perf_counter()
for proj, flats, darks in blocks:
    data = prep.minus_log(prep.normalize(proj, flats, darks))
    data = prep.remove_stripe_fw(data, level=p.ringLevel, wname=p.ringWavelet, sigma=p.ringSigma, pad=True,
                                 num_threads=p.num_threads)
    rec = engine.reconstruct(data, plan.recon_theta, center=plan.recon_center, npad=plan.npad,
                             filter_name=p.filter_name, cutoff=p.butterworth_cutoff, order=p.butterworth_order,
                             num_threads=p.num_threads)
    rec /= np.float32(plan.pxsize_cm)
    rec = post.circ_mask(rec, ratio=1.0, val=0.0)
compute = time.perf_counter() - t0
print(json.dumps({"wall": wall, "compute": compute}))
"""

TOMOPY_CHILD = r"""
import sys, time
t0 = time.perf_counter()
import os
import h5py, numpy as np, tifffile, tomopy
path, out = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    name = next(iter(f))
    g = f[name]
    nang = int(g.attrs["nangles"].decode().strip()); arange = float(g.attrs["arange"].decode().strip())
    px_cm = float(g.attrs["pxsize"].decode().strip()) / 10.0
    keys = sorted(g)
    def stack(names):  # images may be stored (1, rows, columns)
        first = g[names[0]]
        out = np.empty((len(names),) + first.shape[-2:], dtype=np.float32)
        for k, n in enumerate(names):
            out[k] = g[n][()].reshape(first.shape[-2:])
        return out
    proj = stack([f"{name}_0000_{i:04d}.tif" for i in range(nang)])
    flat = stack([k for k in keys if k.startswith(name + "bak_")])
    dark = stack([k for k in keys if k.startswith(name + "drk_")])
# legacy angle list: 270 - i * arange / (nangles - 1) degrees
theta = np.deg2rad(270.0 - np.arange(nang) * arange / (nang - 1))
ncore = os.cpu_count()
tomo = tomopy.normalize(proj, flat, dark, ncore=ncore)
i180 = int(np.argmin(np.abs(np.angle(np.exp(1j * (theta - theta[0] - np.pi))))))
cor = tomopy.find_center_pc(tomo[0], tomo[i180], tol=0.25)
tomo = tomopy.minus_log(tomo, ncore=ncore)
tomo = tomopy.remove_stripe_fw(tomo, level=8, wname="db5", sigma=3, pad=True, ncore=ncore)
rec = tomopy.recon(tomo, theta, center=cor, algorithm="gridrec", filter_name="butterworth",
                   filter_par=[0.25, 2], ncore=ncore)
rec = tomopy.circ_mask(rec / px_cm, axis=0, ratio=1.0)
os.makedirs(out, exist_ok=True)
for k, img in enumerate(rec):
    tifffile.imwrite(os.path.join(out, f"tomopy_{k:05d}.tiff"), img.astype(np.float32))
print(f'{{"wall": {time.perf_counter() - t0}, "cor": {cor}}}')
"""


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _run(cmd: list[str], env: dict | None = None) -> tuple[float, dict]:
    """Wall seconds around a fresh process, and the JSON of its last output line."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def _profile(raw: Path, out: Path, kw: str, top: int) -> None:
    """One more fresh run under cProfile: where the time goes, by stage function (cumulative)."""
    if top <= 0:
        return
    proc = subprocess.run(
        [sys.executable, "-c", PROFILE_CHILD, str(raw), str(out), kw, str(top)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"profile run failed:\n{proc.stderr[-3000:]}")
    print(f"# profile of one more fresh run (top {top} stage functions by cumulative time; {_load()}):")
    print("#   ncalls  tottime  percall  cumtime  percall  function")
    for line in filter(None, proc.stdout.rstrip().splitlines()):
        print(f"#  {line.replace(str(Path.cwd()) + '/', '')}")


def _stats(values: list[float]) -> str:
    return f"best {min(values):6.2f}  median {statistics.median(values):6.2f}"


def _scan(work: Path, name: str, *, nslices: int, thin: int = 16, **params) -> Path:
    """Old-layout raw file, made once and reused: ``min(nslices, thin)`` rows simulated (a rock
    phantom with noise, flats, darks and rings), tiled to ``nslices`` rows when taller (timings do
    not depend on the picture; simulating every row of a 2048-wide scan takes minutes)."""
    import numpy as np

    from alsmicroct.io import RawScanWriter, open_scan
    from alsmicroct.sim import simulate_scan

    path = work / f"{name}.h5"
    if path.exists():
        return path
    t0 = time.perf_counter()
    base = work / f"{name}_thin.h5" if nslices > thin else path
    simulate_scan(base, layout="als", phantom="rock", write_truth=False, seed=7, nslices=min(nslices, thin), **params)
    if base != path:
        reps = -(-nslices // thin)
        with open_scan(base) as scan:
            m = scan.meta
            kw = dict(
                dataset=path.stem,
                nangles=m.nangles,
                nslices=nslices,
                nrays=m.nrays,
                arange=m.arange,
                pxsize_mm=m.pxsize_mm,
                i0cycle=m.i0cycle,
                num_flats=m.num_flats,
                num_darks=m.num_darks,
                angles_deg=m.rot_angles,
            )
            with RawScanWriter(path, **kw) as out:

                def tall(img):
                    return np.tile(img, (reps, 1))[:nslices].astype(np.uint16)

                for i in range(m.nangles):
                    out.write_projection(i, tall(scan.read_projections(proj=(i, i + 1, 1))[0]))
                flats = scan.read_flats()
                for j, (pos, img) in enumerate(zip(scan.flat_indices, flats, strict=True)):
                    out.write_flat(int(pos), j % m.num_flats, tall(img))
                for k, img in enumerate(scan.read_darks()):
                    out.write_dark(k, tall(img))
        base.unlink()
    print(f"# made {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def case_small(work: Path, repeat: int, tomopy_python: str | None, profile: int = 0) -> None:
    raw = _scan(work, "small_640x12x1000", nangles=1000, nslices=12, nrays=640)
    kw = json.dumps({"cor": None, "corFunction": "pc", "doFWringremoval": True})
    print(f"\n## small scan, 640 x 12 x 1000, fresh process, pc centre, FW, quick-look; {_load()}")
    ours, theirs = [], []
    for _ in range(repeat):
        wall, info = _run([sys.executable, "-c", RECON_CHILD, str(raw), str(work / "small_out"), kw])
        ours.append(wall)
        if tomopy_python:
            wall_t, info_t = _run([tomopy_python, "-c", TOMOPY_CHILD, str(raw), str(work / "small_tomopy")])
            theirs.append(wall_t)
    print(f"alsmicroct recon()  {_stats(ours)} s   (cor {info['cor']:.2f}, target <= 1.2 s)")
    if theirs:
        print(f"TomoPy legacy       {_stats(theirs)} s   (cor {info_t['cor']:.2f})")
        print(
            f"alsmicroct / TomoPy: best {min(ours) / min(theirs):.2f}, median "
            f"{statistics.median(ours) / statistics.median(theirs):.2f} (target <= 1)"
        )
    else:
        print("TomoPy: not run (give --tomopy-python; see benchmarks/build_tomopy.sh)")
    print(f"# {_load()}")
    _profile(raw, work / "small_out", kw, profile)


def _tall(work: Path, nslices: int, nangles: int) -> Path:
    return _scan(work, f"tall_2048x{nslices}x{nangles}", nangles=nangles, nslices=nslices, nrays=2048)


def case_full(work: Path, repeat: int, rows_list: list[int], nangles: int, nslices: int) -> None:
    raw = _tall(work, nslices, nangles)
    from alsmicroct.io import open_scan

    with open_scan(raw) as scan:
        cor = (scan.meta.nrays - 1) / 2.0 + 0.0
    print(
        f"\n## recon() wall / compute alone, 2048 columns, {nangles} projections, FW on, "
        f"{os.cpu_count()} cores; {_load()}"
    )
    for rows in rows_list:
        kw = json.dumps({"cor": cor, "doFWringremoval": True, "quicklook": False, "sinoused": [0, rows, 1]})
        ratios, walls, computes = [], [], []
        for _ in range(repeat):
            _, info = _run([sys.executable, "-c", COMPUTE_CHILD, str(raw), str(work / "full_out"), kw])
            walls.append(info["wall"])
            computes.append(info["compute"])
            ratios.append(info["wall"] / info["compute"])
        print(
            f"{rows:4d} rows: recon {_stats(walls)} s, compute alone {_stats(computes)} s, "
            f"ratio {_stats(ratios)} (target <= 1.15)"
        )
    print(f"# {_load()}")


def case_memory(work: Path, rows_list: list[int], nangles: int, nslices: int) -> None:
    raw = _tall(work, nslices, nangles)
    print(f"\n## peak RSS of recon(), 2048 columns, {nangles} projections, chunk_sino=16; {_load()}")
    first = None
    for rows in rows_list:
        kw = json.dumps(
            {"cor": 1023.5, "doFWringremoval": True, "quicklook": False, "chunk_sino": 16, "sinoused": [0, rows, 1]}
        )
        _, info = _run([sys.executable, "-c", RECON_CHILD, str(raw), str(work / "mem_out"), kw])
        peak = max(info["maxrss"], info["sampled_peak"])
        first = first or peak
        need = info["block_estimate"]
        print(
            f"{rows:4d} rows: peak RSS {peak / 1e9:.3f} GB (ru_maxrss {info['maxrss'] / 1e9:.3f}, sampled "
            f"{info['sampled_peak'] / 1e9:.3f}), growth vs {rows_list[0]} rows {100 * (peak / first - 1):+.1f} % "
            f"(target <= 2 %); one block of {info['block_rows']} rows needs {need / 1e9:.3f} GB (alsmicroct.memory "
            f"model): peak = {(peak - 0.3e9) / need:.2f} x that + 0.3 GB (target <= 1.3)"
        )
    print(f"# {_load()}")


def case_preview(work: Path, repeat: int, nslices: int, profile: int = 0) -> None:
    raw = _scan(work, f"preview_2048x{nslices}x1969", nangles=1969, nslices=nslices, nrays=2048)
    kw = json.dumps({"cor": None, "corFunction": "pc", "doFWringremoval": True, "sinoused": [-1, 4, 1]})
    print(
        f"\n## preview, 2048 columns x 1969 projections ({nslices} rows), sinoused=(-1, 4, 1), pc, fresh "
        f"process; {_load()}"
    )
    walls = []
    for _ in range(repeat):
        wall, info = _run([sys.executable, "-c", RECON_CHILD, str(raw), str(work / "preview_out"), kw])
        walls.append(wall)
    print(f"preview  {_stats(walls)} s   (cor {info['cor']:.2f}, target <= 2 s)")
    print(f"# {_load()}")
    _profile(raw, work / "preview_out", kw, profile)


def _byte_compile(skip: bool) -> None:
    """Byte-compile the alsmicroct sources once before any timed run, as ``pip install`` of a
    wheel does (TomoPy's venv was compiled at its install). An editable install run with
    ``PYTHONDONTWRITEBYTECODE`` set never writes the cache, so each fresh process would
    compile every module again (~0.1 s here), a cost no installed user pays."""
    import compileall
    import importlib.util

    package = Path(importlib.util.find_spec("alsmicroct").origin).parent
    if skip:
        print(f"# alsmicroct sources not byte-compiled before timing (--no-compile; {package})")
        return
    ok = compileall.compile_dir(str(package), quiet=1)
    print(f"# alsmicroct byte-compiled before timing (compileall {package}, as pip install does): ok={bool(ok)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["small", "full", "memory", "preview"],
        choices=["small", "full", "memory", "preview"],
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tomopy-python", default=None, help="python of a TomoPy venv (build_tomopy.sh)")
    parser.add_argument("--rows", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--nangles", type=int, default=1313)
    parser.add_argument("--memory-rows", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--preview-rows", type=int, default=128, help="detector rows of the preview scan")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="small/preview: one more run under cProfile, top N stages"
    )
    parser.add_argument("--dir", default=None, help="work folder, raw files kept (default: temporary, removed)")
    parser.add_argument(
        "--no-compile", action="store_true", help="do not byte-compile alsmicroct before timing (see _byte_compile)"
    )
    args = parser.parse_args(argv)
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="alsmicroct-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench_end_to_end: {os.cpu_count()} cores, python {sys.version.split()[0]}, {_load()}")
    _byte_compile(args.no_compile)
    if "small" in args.cases:
        case_small(work, args.repeat, args.tomopy_python, args.profile)
    tall = max(
        (args.rows if "full" in args.cases else []) + (args.memory_rows if "memory" in args.cases else []), default=0
    )
    if "full" in args.cases:
        case_full(work, args.repeat, args.rows, args.nangles, tall)
    if "memory" in args.cases:
        case_memory(work, args.memory_rows, args.nangles, tall)
    if "preview" in args.cases:
        case_preview(work, args.repeat, args.preview_rows, args.profile)
    if not args.dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
