"""Benchmark of ``alsmicroct-watch``: preview latency, idle cost, detection latency.

(a) Preview latency: a simulated 2048-column, 1969-projection scan (both raw layouts, a few
    rows) is moved into a watched RAW_DIR (written under a hidden name, then renamed: the
    moment it is complete); the figure is the time from the rename to the preview PNG on disk
    (its modification time), through the real watcher (watchdog events, settle, completeness
    check, preview thread). The full reconstruction is left out (a runner that takes nothing),
    so only the preview runs. A watcher warms up at start (a small 2048-column preview in a temporary
    folder: imports, numba kernels, first FFT plans); the benchmark waits for it, prints its
    time, and prints the first scan separately (``--no-warm-up``: the first scan pays those
    one-time costs itself); then best and median of ``--repeat`` scans.
(b) Idle cost: the watcher as its own process (``python -m alsmicroct.cli.watch``) over a
    RAW_DIR of ``--files`` scan files that its queue already lists as done; its CPU time
    (``/proc/PID/stat`` utime + stime) over ``--idle`` seconds of wall time, after start-up,
    with watchdog's native observer and with the polling fallback (``--poll``).
(c) Detection latency: in that idle watcher, a small finished scan is renamed into RAW_DIR;
    the figure is the row's ``finished_at`` minus the rename time.

Usage::

    python benchmarks/bench_watch.py                       # everything (about 5 minutes)
    python benchmarks/bench_watch.py --skip-idle --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from alsmicroct.jobs.watch.queue import DB_NAME, Queue
from alsmicroct.jobs.watch.runners import Runner
from alsmicroct.jobs.watch.service import WatchService, WatchSettings
from alsmicroct.sim import simulate_scan


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


class _TakesNothing(Runner):
    """A runner with no room: previews run, full reconstructions never start."""

    name = "none"

    @property
    def free(self) -> int:
        return 0

    def submit(self, attempt_id, job):  # never called (no room)
        raise AssertionError("no full run in this benchmark")


def _arrive(src: Path, raw: Path, name: str) -> float:
    """Copy ``src`` into ``raw`` under a hidden name, rename it to ``name``; the rename time."""
    tmp = raw / f".{name}.part"
    shutil.copyfile(src, tmp)
    os.rename(tmp, raw / name)
    return time.time()


def _wait_file(path: Path, limit: float = 300.0) -> float:
    t_end = time.monotonic() + limit
    while not path.exists():
        if time.monotonic() > t_end:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.05)
    return path.stat().st_mtime


def bench_preview(work: Path, layout: str, *, rows: int, repeat: int, settle: float, warm: bool = True) -> None:
    src = work / "src" / f"big_{layout}.h5"
    src.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    simulate_scan(src, layout=layout, phantom="rock", nangles=1969, nslices=rows, nrays=2048, write_truth=False, seed=1)
    print(f"# simulated {src.name}: 1969 x {rows} x 2048 in {time.perf_counter() - t0:.1f} s", flush=True)
    raw, rec = work / f"raw_{layout}", work / f"rec_{layout}"
    raw.mkdir()
    settings = WatchSettings(raw, rec, settle=settle, tick=0.05, warm_up=warm)
    service = WatchService(settings, runner=_TakesNothing())
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # observer started
        if warm:
            while service.warm is None:
                time.sleep(0.05)
            print(f"{layout:8s} watcher warm-up at start: {service.warm.result():.2f} s; {load()}", flush=True)
        figures = []
        for k in range(repeat + 1):
            name = f"scan{k}_{layout}.h5"
            t_done = _arrive(src, raw, name)
            png = rec / f"rec{Path(name).stem}" / f"{Path(name).stem}_preview.png"
            figures.append(_wait_file(png) - t_done)
            time.sleep(1.5)  # the preview's record and the row's update
            q = Queue(rec / DB_NAME)
            row = q.attempts_of(name)[-1]
            q.close()
            secs = row.preview.get("seconds", {})
            print(
                f"{layout:8s} scan {k}: complete -> PNG {figures[-1]:.2f} s (detected "
                f"{row.finished_at - t_done:.2f} s after; preview {secs.get('total')} s: {secs}); {load()}",
                flush=True,
            )
        later = figures[1:]
        print(
            f"{layout:8s} preview latency, first scan of the watcher ({'after its warm-up' if warm else 'no warm-up'}) "
            f"{figures[0]:.2f} s; next {repeat}: "
            f"best {min(later):.2f} s, median {statistics.median(later):.2f} s (target <= 5 s, settle {settle:g} s); "
            f"{load()}",
            flush=True,
        )
    finally:
        service.stop_event.set()
        thread.join(60)


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_idle(work: Path, *, files: int, seconds: float, poll: bool) -> None:
    kind = "polling" if poll else "watchdog"
    raw, rec = work / f"idle_raw_{kind}", work / f"idle_rec_{kind}"
    raw.mkdir()
    q = Queue(rec / DB_NAME)
    for k in range(files):
        path = raw / f"old_{k:05d}.h5"
        path.write_bytes(b"")
        q.add(path.name, path, state="done")
    q.close()
    cmd = [
        sys.executable,
        "-m",
        "alsmicroct.cli.watch",
        str(raw),
        "--output",
        str(rec),
        "--settle",
        "1",
        *(["--poll"] if poll else []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(10.0)  # start-up: imports, the first full listing
        c0, w0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, w1 = _cpu_seconds(proc.pid), time.monotonic()
        share = 100.0 * (c1 - c0) / (w1 - w0)
        print(
            f"idle, {files} files, {kind:8s}: {c1 - c0:.2f} s CPU over {w1 - w0:.0f} s = {share:.2f} % of one "
            f"core (target <= 1 %); {load()}",
            flush=True,
        )
        # (c) detection latency in the same watcher
        small = work / "src" / f"small_{kind}.h5"
        small.parent.mkdir(parents=True, exist_ok=True)
        simulate_scan(small, layout="dxchange", phantom="shepp", nangles=91, nslices=4, nrays=64, write_truth=False)
        lat = []
        for k in range(3):
            name = f"new_{kind}_{k}.h5"
            t_done = _arrive(small, raw, name)
            t_end = time.monotonic() + 60
            while time.monotonic() < t_end:
                db = sqlite3.connect(rec / DB_NAME, timeout=30)
                got = db.execute(
                    "SELECT finished_at FROM attempts WHERE scan = ? AND finished_at IS NOT NULL", (name,)
                ).fetchone()
                db.close()
                if got:
                    lat.append(got[0] - t_done)
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"{name} not detected in 60 s")
            time.sleep(3.0)
        print(
            f"detection latency, {kind:8s}: "
            + ", ".join(f"{x:.2f}" for x in lat)
            + f" s; best {min(lat):.2f} s, median {statistics.median(lat):.2f} s (target <= 2 s, settle 1 s); "
            f"{load()}",
            flush=True,
        )
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=8, help="detector rows of the simulated 2048 x 1969 scan")
    ap.add_argument("--repeat", type=int, default=3, help="scans timed after the first (best / median)")
    ap.add_argument("--settle", type=float, default=1.0, help="the watcher's settle time, s (its default: 1)")
    ap.add_argument("--files", type=int, default=10000, help="files in RAW_DIR for the idle figure")
    ap.add_argument("--idle", type=float, default=60.0, help="seconds the idle watcher is measured")
    ap.add_argument("--layouts", default="dxchange,als")
    ap.add_argument("--skip-preview", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--no-warm-up", action="store_true", help="the watcher does not warm up at start")
    args = ap.parse_args()
    print(f"# {os.cpu_count()} CPUs; {load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_watch_") as tmp:
        work = Path(tmp)
        if not args.skip_preview:
            for layout in args.layouts.split(","):
                bench_preview(
                    work, layout, rows=args.rows, repeat=args.repeat, settle=args.settle, warm=not args.no_warm_up
                )
        if not args.skip_idle:
            for poll in (False, True):
                bench_idle(work, files=args.files, seconds=args.idle, poll=poll)


if __name__ == "__main__":
    main()
