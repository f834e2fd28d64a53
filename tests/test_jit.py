"""Lazy numba kernels and their NumPy twins (alsmicroct.jit).

Each twin is checked against its compiled kernel on realistic shapes (both paths run here,
whatever the dispatch would pick), and a small scan is reconstructed in a fresh process
without numba being imported at all.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest

from alsmicroct import jit
from alsmicroct.prep.outliers import reflect_index, reflect_indices

# the modules themselves (alsmicroct.prep re-exports functions of the same names)
norm = importlib.import_module("alsmicroct.prep.normalize")
stripes = importlib.import_module("alsmicroct.prep.stripes")
stripes_vo = importlib.import_module("alsmicroct.prep.stripes_vo")


def _both(kernel, twin, args, out_positions):
    """Run the compiled kernel and the twin on copies of ``args``; return both sets of outputs."""
    a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    b = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
    kernel.compiled(*a)
    twin(*b)
    return [a[i] for i in out_positions], [b[i] for i in out_positions]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(7)


def test_dispatch_rule_is_the_block_size_only():
    assert jit.use_twins(np.ones((2, 3, 4), np.float32)) and jit.use_twins(jit.NUMPY_BELOW - 1)
    assert not jit.use_twins(jit.NUMPY_BELOW)
    k = norm._minus_log_kernel
    assert k.pick(True) is norm._minus_log_numpy
    assert k.pick(False) is k.compiled
    assert stripes._block_profiles.pick(True) is stripes._block_profiles.compiled  # no twin: always compiled


def test_a_large_blocks_small_sinograms_stay_compiled(monkeypatch):
    """The FW filter decides for the whole block: a block of many sinograms, each small, takes
    the compiled transforms, as do the later wavelet levels of a large sinogram."""
    calls = []
    monkeypatch.setattr(stripes._analysis_axis0, "pick", lambda twins: calls.append(twins) or (lambda *a: None))
    monkeypatch.setattr(stripes._synthesis_axis0, "pick", lambda twins: calls.append(twins) or (lambda *a: None))
    monkeypatch.setattr(jit, "NUMPY_BELOW", 5000)
    stripes.remove_stripe_fw(np.ones((40, 4, 32), np.float32), level=2, num_threads=1)  # 5120 values
    assert calls and not any(calls)
    calls.clear()
    stripes.remove_stripe_fw(np.ones((40, 3, 32), np.float32), level=2, num_threads=1)  # 3840 values
    assert calls and all(calls)


def test_reflect_indices_equal_the_scalar_rule():
    i = np.arange(-40, 60)
    for n in (1, 2, 5, 17):
        assert reflect_indices(i, n).tolist() == [reflect_index.py_func(int(v), n) for v in i]


@pytest.mark.parametrize("cutoff", [None, 1.2])
def test_normalize_twin_equals_the_kernel(rng, cutoff):
    proj = rng.uniform(50, 4000, (37, 5, 131)).astype(np.float32)
    proj[3, 2, 7] = np.nan
    dark = rng.uniform(0, 60, (5, 131)).astype(np.float32)
    den = rng.uniform(900, 4000, (3, 5, 131)).astype(np.float32)
    group = rng.integers(0, 3, 37).astype(np.int64)
    cut = np.float32(cutoff or 0.0)
    args = (proj, dark, den, group, cut, cutoff is not None, np.empty_like(proj))
    (ka,), (ta,) = _both(norm._normalize_kernel, norm._normalize_numpy, args, [6])
    np.testing.assert_array_equal(ka, ta)


def test_minus_log_twin_equals_the_kernel_to_float32_rounding(rng):
    t = rng.uniform(-0.1, 1.5, (40, 7, 640)).astype(np.float32)
    t[0, 0, :5] = [np.nan, 0.0, -1.0, 1e-9, 3e7]
    floor = np.float32(1e-6)
    args = (t, floor, np.float32(1 / 1e-6), np.empty_like(t))
    (ka,), (ta,) = _both(norm._minus_log_kernel, norm._minus_log_numpy, args, [3])
    np.testing.assert_array_equal(ka[0, 0, :5], ta[0, 0, :5])
    np.testing.assert_allclose(ta, ka, rtol=1.2e-7, atol=0)
    ulps = np.abs(ta.view(np.int32).astype(np.int64) - ka.view(np.int32).astype(np.int64))
    print(f"minus_log twin: {np.count_nonzero(ulps)} of {ulps.size} values differ, by at most {ulps.max()} ulp")
    assert ulps.max() <= 1
    # in place, as minus_log calls it
    inplace = t.copy()
    norm._minus_log_numpy(inplace, floor, np.float32(1e6), inplace)
    np.testing.assert_array_equal(inplace, ta)


@pytest.mark.parametrize("wname", ["db5", "haar", "sym8"])
@pytest.mark.parametrize("n", [1, 9, 1125, 1126])
def test_wavelet_axis0_twins_equal_the_kernels(rng, wname, n):
    filters = stripes._WaveletFilters(__import__("pywt").Wavelet(wname))
    x = rng.standard_normal((n, 33)).astype(np.float32)
    nout = (n + filters.length - 1) // 2
    lo, hi = np.empty((nout, 33), np.float32), np.empty((nout, 33), np.float32)
    args = (x, filters.dec_lo, filters.dec_hi, lo, hi)
    kout, tout = _both(stripes._analysis_axis0, stripes._analysis_axis0_numpy, args, [3, 4])
    for k, t in zip(kout, tout, strict=True):
        np.testing.assert_array_equal(k, t)
    out = np.empty((2 * nout - filters.length + 2, 33), np.float32)
    args = (kout[0], kout[1], filters.rec_lo, filters.rec_hi, out)
    (ks,), (ts,) = _both(stripes._synthesis_axis0, stripes._synthesis_axis0_numpy, args, [4])
    np.testing.assert_array_equal(ks, ts)


@pytest.mark.parametrize("shape", [(1, 5), (2, 1), (1000, 640), (1969, 257)])
def test_ring_detection_twins_equal_the_kernels(rng, shape):
    sino = (rng.standard_normal(shape) * 0.01 + np.linspace(0, 2, shape[1])).astype(np.float32)
    mean, dev = np.empty(shape[1]), np.empty(shape[1])
    kout, tout = _both(stripes_vo._column_stats, stripes_vo._column_stats_numpy, (sino, mean, dev), [1, 2])
    for k, t in zip(kout, tout, strict=True):
        np.testing.assert_array_equal(k, t)
    (kr,), (tr,) = _both(
        stripes_vo._residual_variation, stripes_vo._residual_variation_numpy, (sino, np.empty(shape[1])), [1]
    )
    np.testing.assert_array_equal(kr, tr)


def test_small_scan_reconstructs_without_numba(tmp_path):
    """The default path (pc centre, FW with ring detection) of a 12-row, 320-column scan: every
    kernel call takes its twin, so numba is never imported; the slices equal a run where every
    call is compiled (NUMPY_BELOW = 0), to float32 rounding of the -log."""
    from alsmicroct.sim import simulate_scan

    simulate_scan(tmp_path / "s.h5", layout="als", phantom="shepp", nangles=400, nslices=12, nrays=320, seed=3)
    code = (
        "import sys, json, numpy as np\n"
        "from alsmicroct import jit\n"
        "jit.NUMPY_BELOW = int(sys.argv[2])\n"
        "from alsmicroct.reconstruction import recon\n"
        "from alsmicroct.io.tiff import read_tiff\n"
        "r = recon('s.h5', cor=None, corFunction='pc', doFWringremoval=True, outputPath=sys.argv[1],"
        " quicklook=False, num_threads=1)\n"
        "np.save(sys.argv[1] + '.npy', np.stack([read_tiff(f) for f in r.files]))\n"
        "print(json.dumps({'numba': 'numba' in sys.modules, 'cor': r.cor}))\n"
    )
    runs = {}
    for name, below in (("twins", jit.NUMPY_BELOW), ("compiled", 0)):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / name), str(below)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        runs[name] = json.loads(proc.stdout.splitlines()[-1])
    assert runs["twins"]["numba"] is False and runs["compiled"]["numba"] is True
    assert runs["twins"]["cor"] == runs["compiled"]["cor"]
    twins, compiled = np.load(tmp_path / "twins.npy"), np.load(tmp_path / "compiled.npy")
    scale = float(np.abs(compiled).max())
    print(f"twins vs compiled: max |diff| {np.abs(twins - compiled).max() / scale:.2g} of the largest value")
    np.testing.assert_allclose(twins, compiled, rtol=0, atol=1e-5 * scale)
