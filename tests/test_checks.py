"""The shared validators: one message form (name=value; expected ...) for every stage."""

from __future__ import annotations

import numpy as np
import pytest

from alsmicroct.checks import as_real_array, check_number, check_positive_int
from alsmicroct.errors import ParameterError
from alsmicroct.prep import remove_outlier_1d, retrieve_phase


def test_check_positive_int():
    assert check_positive_int(np.int64(4), "size") == 4
    assert check_positive_int(16.0, "rows", integral_float=True) == 16
    for bad in (True, 2.5, "3", 0):
        with pytest.raises(ParameterError, match=r"size=.*expected an integer >= 1"):
            check_positive_int(bad, "size")
    with pytest.raises(ParameterError, match="num_iter=11; expected an integer from 1 to 10"):
        check_positive_int(11, "num_iter", maximum=10)


def test_check_number():
    assert check_number(np.float32(0.5), "dif", minimum=0.0, strict=True) == 0.5
    assert check_number(None, "energy_kev", allow_none=True) is None
    for bad in (0.0, -1, float("nan"), "1", True, None):
        with pytest.raises(ParameterError, match=r"dif=.*expected a finite number with 0.0 < dif"):
            check_number(bad, "dif", minimum=0.0, strict=True)
    with pytest.raises(ParameterError, match="tol=1.0; expected 0 <= tol < 1"):
        check_number(1.0, "tol", minimum=0.0, maximum=1.0, strict_max=True, expected="0 <= tol < 1")


def test_as_real_array():
    with pytest.raises(ParameterError, match="ndim=1"):
        as_real_array(np.zeros(3), "sino", 2)
    with pytest.raises(ParameterError, match="NaN"):
        as_real_array(np.full((2, 2), np.nan), "sino", 2)


def test_stages_use_the_shared_messages():
    data = np.ones((3, 2, 4), np.float32)
    with pytest.raises(ParameterError, match="dif=-1; expected a finite number with 0.0 < dif"):
        remove_outlier_1d(data, dif=-1)
    with pytest.raises(ParameterError, match="alpha=0; expected a finite number with 0.0 < alpha"):
        retrieve_phase(data, pixel_size_cm=1e-4, dist_cm=5, energy_kev=20, alpha=0)
