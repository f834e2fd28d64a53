"""The docstring examples of open_scan, simulate_scan, recon (and the checks) run as doctests
on a small simulated scan, in a temporary folder, as part of the normal test run."""

from __future__ import annotations

import doctest

import pytest

import alsmicroct.checks
import alsmicroct.io.readers
import alsmicroct.reconstruction
import alsmicroct.sim.scan


@pytest.mark.parametrize(
    "module",
    [alsmicroct.io.readers, alsmicroct.sim.scan, alsmicroct.reconstruction, alsmicroct.checks],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no docstring example"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {module.__name__} failed"
