"""Centre of rotation from raw files with a known centre: pc, vo, nm, and the try sweep."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.io.tiff import read_tiff
from alsmicroct.pipeline.center import pair_180
from alsmicroct.reconstruction import find_centers, try_centers
from alsmicroct.sim import simulate_scan


@pytest.fixture(scope="module")
def offcentre(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cor")
    return simulate_scan(folder / "cor.h5", phantom="rock", nangles=241, nslices=4, nrays=96, cor=51.37, seed=11)


def test_all_methods_find_the_known_centre(offcentre):
    found = find_centers(offcentre.path, methods=("pc", "vo", "nm"), doFWringremoval=False)
    assert abs(found["pc"] - offcentre.cor) <= 0.25, found
    assert abs(found["vo"] - offcentre.cor) <= 0.5, found
    assert abs(found["nm"] - offcentre.cor) <= 0.5, found


def test_pc_pairs_by_angle_not_by_index(tmp_path):
    scan = simulate_scan(
        tmp_path / "wide.h5", phantom="rock", nangles=201, arange=200, nslices=4, nrays=96, cor=44.6, seed=4
    )
    found = find_centers(scan.path, methods=("pc",), projused=(13, 201, 1), doFWringremoval=False)
    assert abs(found["pc"] - scan.cor) <= 0.25, found


def test_pair_180_general_case():
    deg = np.radians([5.0, 40.0, 100.0, 220.3, 300.0])
    i, j, gap = pair_180(deg)
    assert (i, j) == (1, 3) and abs(np.degrees(gap) - 0.3) < 1e-9
    i, j, gap = pair_180(np.radians([270.0, 200.0, 90.0]))
    assert (i, j, gap) == (0, 2, 0.0)


def test_try_centers_sweep(offcentre, tmp_path):
    centers = [offcentre.cor - 2, offcentre.cor, offcentre.cor + 2]
    files, montage = try_centers(offcentre.path, centers, outputPath=str(tmp_path), row=2, doFWringremoval=False)
    assert [f.name for f in files] == [f"cor_cor{c:08.2f}.tiff" for c in centers]
    assert montage.suffix == ".png" and montage.stat().st_size > 2000
    imgs = [read_tiff(f) for f in files]
    # the right centre gives the sharpest slice (largest gradient energy)
    sharp = [float(np.sum(np.diff(im, axis=0) ** 2) + np.sum(np.diff(im, axis=1) ** 2)) for im in imgs]
    assert int(np.argmax(sharp)) == 1, sharp
    with pytest.raises(ParameterError, match="outside the detector"):
        try_centers(offcentre.path, [200.0], outputPath=str(tmp_path))
