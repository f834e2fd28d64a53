"""Tests of alsmicroct.prep.beamhardening: Herman's polynomial against float64 ground
truth, identity coefficients, in-place use, checked coefficients."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.errors import ParameterError
from alsmicroct.prep import beam_hardening


def test_beam_hardening_polynomial():
    rng = np.random.default_rng(7)
    data = (rng.random((4, 3, 30)) * 3.0).astype(np.float32)
    coef = [0.01, 0.9, 0.12, -0.02, 0.003, -1e-4]
    expected = np.polynomial.polynomial.polyval(data.astype(np.float64), coef)
    np.testing.assert_allclose(beam_hardening(data, coefficients=coef), expected, rtol=1e-6)
    ident = beam_hardening(data, coefficients=(0, 1, 0, 0, 0, 0))
    np.testing.assert_array_equal(ident, data)
    inplace = beam_hardening(data, coefficients=coef, out=data)
    assert inplace is data
    with pytest.raises(ParameterError, match="coefficients"):
        beam_hardening(data, coefficients=[0, 1, 0])
    with pytest.raises(ParameterError, match="coefficients"):
        beam_hardening(data, coefficients=[0, 1, 0, 0, 0, np.inf])
    with pytest.raises(ParameterError, match="ndim=2"):
        beam_hardening(data[0], coefficients=coef)


def test_beam_hardening_linearises_a_hardened_wedge():
    # a step wedge of thickness L (cm) in a beam that hardens: measured
    # t = mu L - b (mu L)^2 ; a 5th-order fit of mu L against t recovers mu L
    mu, b = 2.0, 0.04
    path = np.linspace(0.0, 3.0, 200)
    measured = mu * path - b * (mu * path) ** 2
    coef = np.polynomial.polynomial.polyfit(measured, mu * path, 5)
    data = np.broadcast_to(measured.astype(np.float32), (2, 3, 200)).copy()
    out = beam_hardening(data, coefficients=coef)
    assert np.abs(measured - mu * path).max() > 1.0  # uncorrected error
    np.testing.assert_allclose(out[1, 2], mu * path, atol=2e-3)
