"""Tests of alsmicroct.post circ_mask and to_uint8."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.post import circ_mask, to_uint8


def test_circ_mask_geometry():
    vol = np.ones((3, 64, 64), np.float32)
    out = circ_mask(vol, ratio=1.0, val=-1.0)
    assert vol.min() == 1.0  # input untouched
    # pixel centres strictly inside radius 32 around (31.5, 31.5)
    y, x = np.mgrid[:64, :64] - 31.5
    inside = x**2 + y**2 < 32**2
    assert np.array_equal(out[1] == 1.0, inside)
    assert int(inside.sum()) == 3228  # ~ pi 32^2 = 3217
    assert out[0, 0, 0] == -1.0 and out[2, 31, 0] == 1.0  # edge midpoint still inside
    half = circ_mask(vol, ratio=0.5)
    assert int((half[0] > 0).sum()) == int((x**2 + y**2 < 16**2).sum())
    # axis: slices along the last axis
    same = circ_mask(np.moveaxis(vol, 0, 2), ratio=1.0, val=-1.0, axis=2)
    assert np.array_equal(np.moveaxis(same, 2, 0), out)
    circ_mask(vol, inplace=True)
    assert vol[0, 0, 0] == 0.0


def test_to_uint8_formula():
    x = np.array([-10, -9.99, 0.0, 9.99, 10, 12, -15, np.nan], np.float32)
    got = to_uint8(x, dmin=-10, dmax=10)
    assert got.dtype == np.uint8
    # floor(0.5 + 255 (x + 10) / 20)
    assert got.tolist() == [0, 0, 128, 255, 255, 255, 0, 0]
    # rounding boundary: x where 255 (x - dmin)/(dmax - dmin) = k + 0.5 exactly
    y = np.array([0.5, 1.5, 254.5, 1.49], np.float64)
    assert to_uint8(y, dmin=0, dmax=255).tolist() == [1, 2, 255, 1]
    with pytest.raises(ParameterError, match="dmin"):
        to_uint8(x, dmin=1, dmax=1)
