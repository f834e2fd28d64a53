"""The default ring removal through recon(), on 640-column simulated scans with known truth.

Each scan (a rock core on the axis, or 40 % of the half-width off it) is simulated twice
with the same seed: with gain rings on every pixel (1 %), dead, partial (saturating) and
fluctuating columns, and without (its ring-free twin). The default recon()
(``doFWringremoval=True``: dead columns interpolated, then Fourier-wavelet at the legacy
level 8, sigma 3, on the detected stripe columns only, keeping only the angle-constant part
of its correction except on strong stripes, then a second pass on the stripes still
detected) is checked against the plain ring-free twin. Measured here (butterworth filter,
recon() defaults, seed 3): residual ring 6.6 % / 7.1 % of the injected one (on / off axis;
9.3 / 10.5 % before the slope-following stripe background and the second pass), -1.00 /
-1.18 dB against the twin (target 1.5 dB: met), -0.04 / -0.07 dB lost on the ring-free scan
(target 0.2 dB: met; 0.29 dB on the axis before the angle-constant correction was bounded
by the stripe each column shows). The asserted
bounds are the targets where they are met, else the measured figure with a small margin;
the legacy unmasked FW loses 13-16 dB on the same ring-free scans.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.io.tiff import read_tiff
from alsmicroct.params import ReconParams
from alsmicroct.pipeline.steps import enabled_step_names
from alsmicroct.post.quality import psnr, ring_index
from alsmicroct.prep import remove_stripe_fw
from alsmicroct.prep.stripes_vo import apply_masked
from alsmicroct.reconstruction import recon
from alsmicroct.sim import Phantom, make_phantom, simulate_scan

NRAYS = 640
PX = 0.000325
RINGS = dict(rings=0.01, dead_columns=2, partial_columns=3, fluctuating_columns=3)
_RUN = itertools.count()


def _sample(offset: float) -> Phantom:
    half = NRAYS / 2 * PX
    p = make_phantom("rock", 0.5 * half, half_height_cm=8 * PX, seed=5)
    return Phantom(
        p.centers + np.array([offset * half, 0.0, 0.0]), p.semi_axes, p.rotations, p.mu, p.half_heights, "rock"
    )


def _rec(scan, out, **kw) -> np.ndarray:
    res = recon(scan.path, outputPath=str(out / f"run{next(_RUN)}"), cor=scan.cor, quicklook=False, resume=False, **kw)
    return np.stack([read_tiff(f) for f in res.files])


@pytest.fixture(scope="module", params=[0.0, 0.4], ids=["on-axis", "off-axis"])
def pair(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rings")
    kw = dict(
        nangles=481,
        nslices=2,
        nrays=NRAYS,
        cor=(NRAYS - 1) / 2 + 0.3,
        seed=3,
        peak_attenuation=1.5,
        phantom=_sample(request.param),
    )
    twin = simulate_scan(folder / "twin.h5", **kw)
    ringed = simulate_scan(folder / "ringed.h5", **kw, **RINGS)
    plain_twin = _rec(twin, folder, doFWringremoval=False)
    plain_ring = _rec(ringed, folder, doFWringremoval=False)
    return folder, twin, ringed, twin.volume(), plain_twin, plain_ring


def test_default_meets_the_targets(pair):
    folder, twin, ringed, truth, plain_twin, plain_ring = pair
    assert ReconParams().doFWringremoval and ReconParams().ringMask
    r_ring, r_twin = _rec(ringed, folder), _rec(twin, folder)
    injected = ring_index(plain_ring, plain_twin)
    residual = ring_index(r_ring, r_twin) / injected
    ref = psnr(plain_twin, truth)
    print(
        f"injected {injected:.3f} 1/cm, residual {100 * residual:.1f} %, vs twin "
        f"{psnr(r_ring, truth) - ref:+.2f} dB, clean cost {ref - psnr(r_twin, truth):.2f} dB"
    )
    assert residual <= 0.10  # issue 15's target
    assert psnr(r_ring, truth) >= ref - 1.5
    assert psnr(r_twin, truth) >= ref - 0.2  # issue 15: the default costs <= 0.2 dB on a clean scan


def test_masked_fw_leaves_an_angle_constant_sample_edge_alone():
    """A sample centred on the axis has its edge at the same columns at every angle; with
    small stripes everywhere the dilated mask covers the edge, and the deep FW's
    angle-constant correction there is the edge itself, not a stripe: it is bounded by the
    stripe the column shows (measured: the edge moves by 0.019 against 0.20 unbounded)."""
    rng = np.random.default_rng(0)
    nang, ncol, radius = 481, 640, 160.0
    x = np.arange(ncol) - (ncol - 1) / 2
    profile = 0.02 * np.sqrt(np.clip(radius**2 - x**2, 0.0, None))  # -log of a centred disk
    gain = rng.normal(0.0, 0.004, ncol)  # small gain stripes on every column
    sino = ((profile + gain)[None, None, :] + rng.normal(0.0, 0.01, (nang, 1, ncol))).astype(np.float32)
    edge = np.flatnonzero(np.abs(np.abs(x) - radius) < 2)
    out, mask = apply_masked(sino, functools.partial(remove_stripe_fw, level=8, sigma=3), constant=True)
    assert mask[0, edge].all()
    corr = (out - sino).mean(axis=0)[0]
    moved = np.abs(corr[edge] + gain[edge]).max()
    assert moved < 0.05, f"edge columns moved by {moved:.4f} (-log)"
    far = np.abs(np.abs(x) - radius) > 8
    assert np.sqrt(np.mean((corr + gain)[far] ** 2)) < 0.7 * gain.std()  # stripes still corrected


def test_legacy_unmasked_fw_is_what_the_default_replaces(pair):
    """ringMask=False (the exact legacy FW) costs decibels on the ring-free scan; the
    default does not."""
    folder, twin, _, truth, plain_twin, _ = pair
    legacy = _rec(twin, folder, ringMask=False)
    loss = psnr(plain_twin, truth) - psnr(legacy, truth)
    print(f"legacy FW level 8 on the ring-free scan: {loss:.2f} dB lost")
    assert loss > 1.0


@pytest.mark.parametrize("method", ["ti", "sf", "sorting", "large", "dead", "all"])
def test_every_method_runs_in_recon_and_lowers_rings(pair, method):
    folder, twin, ringed, truth, plain_twin, plain_ring = pair
    r_ring, r_twin = _rec(ringed, folder, ringMethod=method), _rec(twin, folder, ringMethod=method)
    residual = ring_index(r_ring, r_twin) / ring_index(plain_ring, plain_twin)
    print(f"{method}: residual {100 * residual:.1f} %, vs twin {psnr(r_ring, truth) - psnr(plain_twin, truth):+.2f} dB")
    assert residual < 0.6
    assert psnr(r_ring, truth) > psnr(plain_ring, truth) + 3.0


@pytest.mark.parametrize(
    "kw, steps",
    [
        ({}, ["stripes_dead_columns", "stripes_fw"]),
        (dict(ringMask=False), ["stripes_fw"]),
        (dict(ringDead=False), ["stripes_fw"]),
        (dict(ringMethod="ti"), ["stripes_dead_columns", "stripes_ti"]),
        (dict(ringMethod="all"), ["stripes_all"]),
        (dict(doFWringremoval=False, doTIringremoval=True), ["stripes_ti"]),
        (dict(doFWringremoval=False, ringMethod="sorting"), []),
    ],
)
def test_ring_switches_pick_the_steps(kw, steps):
    names = [n for n in enabled_step_names(ReconParams(**kw)) if n.startswith("stripes")]
    assert names == steps


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(ringMethod="sortng"), ["ringMethod", "sorting"]),
        (dict(ringDetectSize=2), ["ringDetectSize", ">= 3"]),
        (dict(ringSnr=0), ["ringSnr", "> 0"]),
        (dict(ringDilate=-1), ["ringDilate", ">= 0"]),
    ],
)
def test_bad_ring_parameters_are_refused(kw, words):
    with pytest.raises(ParameterError) as err:
        ReconParams.from_mapping(kw)
    assert all(w in str(err.value) for w in words)


def test_ring_parameters_from_text():
    p = ReconParams.from_mapping({"ringMethod": "dead", "ringMask": "no", "ringSnr": "2.5", "ringDetectSize": "11"})
    assert (p.ringMethod, p.ringMask, p.ringSnr, p.ringDetectSize) == ("dead", False, 2.5, 11)


def _pipeline_residual(seed: int, offset: float) -> float:
    """Residual ring (fraction of the injected one) of the default stripe steps, run as the
    pipeline runs them (its own step table), on a 640-column scan pair simulated in memory."""
    from types import SimpleNamespace

    from alsmicroct.engine import gridrec
    from alsmicroct.pipeline.plan import default_npad
    from alsmicroct.pipeline.steps import STEPS, Block
    from alsmicroct.prep import minus_log, normalize
    from alsmicroct.sim import simulate_data

    kw = dict(
        nangles=481,
        nslices=2,
        nrays=NRAYS,
        cor=(NRAYS - 1) / 2 + 0.3,
        seed=seed,
        peak_attenuation=1.5,
        phantom=_sample(offset),
    )
    params = ReconParams()
    recs = []
    for scan in (simulate_data(**kw), simulate_data(**kw, **RINGS)):
        data = minus_log(normalize(scan.proj, scan.flats, scan.darks))
        plain, block = data, Block(data=data, rows=np.arange(2), proj=np.arange(data.shape[0]))
        for spec in STEPS:
            if spec.name.startswith("stripes") and spec.enabled(params):
                block.data = spec.run(block, SimpleNamespace(params=params))
        recs.append(
            [
                gridrec.reconstruct(d, scan.angles, center=scan.cor, npad=default_npad(NRAYS))
                for d in (plain, block.data)
            ]
        )
    (plain_twin, twin), (plain_ring, ring) = recs
    return ring_index(ring, twin) / ring_index(plain_ring, plain_twin)


@pytest.mark.parametrize("seed, offset", [(0, 0.0), (0, 0.4), (5, 0.0), (5, 0.4)])
def test_default_residual_ring_on_the_hard_seeds(seed, offset):
    """Seeds whose residual ring was 21.8 / 12.0 / 17.6 / 16.8 % (seed 0 on / off axis, seed 5
    on / off): stripes on the steep slopes of the angular-mean profile, where a column median
    is the profile itself and hides them, were neither detected nor corrected; the filter's
    narrow, bounded correction under-corrected the rest; dead columns were interpolated with
    their neighbours' rings. Then 14.5 / 7.9 / 12.6 / 11.7 % (main before branch rings19):
    the edge of the on-axis sample (a kink in the angular-mean profile, where the stripes
    were neither detected consistently nor corrected) held 26-31 % of the residual ring
    (squared), and the local mean of the stripe field (what a 9-column background and
    correction cannot see) most of the rest. Measured now 10.8 / 5.5 / 9.5 / 8.9 %; the 10 %
    target is met on every 640-column seed but seed 0 on the axis (the asserted bounds are
    the measured figures with a small margin; on main they fail: 14.5 > 11.2 etc.)."""
    residual = _pipeline_residual(seed, offset)
    print(f"seed {seed}, offset {offset}: residual {100 * residual:.1f} %")
    bound = {(0, 0.0): 0.112, (0, 0.4): 0.06, (5, 0.0): 0.10, (5, 0.4): 0.095}[seed, offset]
    assert residual <= bound
