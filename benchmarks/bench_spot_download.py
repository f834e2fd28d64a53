"""Benchmark: download a large (sparse) file from the SPOT test server.

The server (``alsmicroct.testing.SpotServer``) runs in this process on 127.0.0.1; each
download runs in a fresh subprocess that reports its throughput and its peak RSS growth
during the transfer (psutil sampling every 5 ms, plus ``ru_maxrss``). Two modes:

- ``client``: ``SpotSession.download`` (staging check, resumable streaming to a temporary
  file, fsync, atomic rename);
- ``reference``: a plain ``requests`` streaming GET with the same cookie, written to
  ``/dev/null`` -- the memory floor of any streaming download in Python;
- ``reference_disk``: the same plain GET written to a file in the same folder, then
  fsync'ed -- the fair throughput reference for the client, which also writes to disk.

Usage::

    python benchmarks/bench_spot_download.py [--size-mb 500] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]

_MODES = ("reference", "reference_disk", "client")

_CHILD = r"""
import json, os, resource, sys, threading, time
import psutil, requests
from alsmicroct.data_management import SpotSession

mode, base_url, dataset, out_dir = sys.argv[1:5]
proc = psutil.Process()
spot = SpotSession("bench", "bench-pass", base_url=base_url, progress=False)
url = f"{base_url}/hdf/download/{spot.raw_path(dataset)}"
peak = [0]
done = threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.005)

before = proc.memory_info().rss
peak[0] = before
thread = threading.Thread(target=sample, daemon=True)
start = time.perf_counter()
thread.start()
if mode == "client":
    path = spot.download(dataset, downloadPath=out_dir)
    nbytes = os.path.getsize(path)
    os.unlink(path)
    os.unlink(os.path.join(out_dir, f".{dataset}.h5.spot.json"))  # record of the download
else:
    nbytes = 0
    sink_path = os.devnull if mode == "reference" else os.path.join(out_dir, "plain.h5")
    with spot._http.get(url, stream=True, timeout=60) as resp, open(sink_path, "wb") as sink:
        resp.raise_for_status()
        for chunk in resp.iter_content(chunk_size=1 << 20):
            sink.write(chunk)
            nbytes += len(chunk)
        if mode == "reference_disk":
            sink.flush()
            os.fsync(sink.fileno())
    if mode == "reference_disk":
        os.unlink(sink_path)
elapsed = time.perf_counter() - start
done.set()
thread.join()
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
spot.close()
print(json.dumps({"mode": mode, "bytes": nbytes, "seconds": elapsed,
                  "rss_before": before, "rss_peak_growth": peak[0] - before,
                  "maxrss_growth": maxrss - before}))
"""


def _make_sparse(path: Path, size: int) -> None:
    """A sparse file of ``size`` bytes starting with the HDF5 signature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\x89HDF\r\n\x1a\n")
        fh.truncate(size)


def _run_child(mode: str, base_url: str, dataset: str, out_dir: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, base_url, dataset, out_dir],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per download plus a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500, help="file size in MB (10**6)")
    parser.add_argument("--repeat", type=int, default=1, help="downloads per mode")
    args = parser.parse_args(argv)

    from alsmicroct.testing import SpotServer

    size = args.size_mb * 10**6
    with tempfile.TemporaryDirectory(prefix="bench_spot_") as tmp:
        root = Path(tmp) / "root"
        _make_sparse(root / "bench" / "bench_scan.h5", size)
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        with SpotServer(root, users={"bench": "bench-pass"}, chunk_size=1 << 20) as srv:
            results = []
            for _ in range(args.repeat):
                for mode in _MODES:
                    res = _run_child(mode, srv.base_url, "bench_scan", str(out_dir))
                    assert res["bytes"] == size, res
                    results.append(res)
                    print(
                        f"{mode:14s} {res['bytes'] / 1e6:7.0f} MB in {res['seconds']:6.2f} s"
                        f" = {res['bytes'] / 1e6 / res['seconds']:7.1f} MB/s;"
                        f" peak RSS growth {res['rss_peak_growth'] / 2**20:6.1f} MiB"
                        f" (ru_maxrss growth {res['maxrss_growth'] / 2**20:6.1f} MiB,"
                        f" RSS before {res['rss_before'] / 2**20:5.1f} MiB)",
                        flush=True,
                    )
    best = {m: max(r["bytes"] / r["seconds"] for r in results if r["mode"] == m) for m in _MODES}
    growth = {m: max(r["rss_peak_growth"] for r in results if r["mode"] == m) for m in _MODES}
    print("best throughput (MB/s): " + ", ".join(f"{m} {best[m] / 1e6:.0f}" for m in _MODES))
    print(
        f"client / reference_disk throughput: {best['client'] / best['reference_disk']:.2f};"
        f" max RSS growth (MiB): "
        + ", ".join(f"{m} {growth[m] / 2**20:.1f}" for m in _MODES)
        + f"; file {size / 2**20:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
