"""The reader registry: layout detection in one place, room for a non-HDF5 reader."""

from __future__ import annotations

import pytest

from alsmicroct.errors import InputFileError
from alsmicroct.io import open_scan, readers
from alsmicroct.sim import simulate_scan


def test_hdf5_reader_is_registered(tmp_path):
    s = simulate_scan(tmp_path / "scan.h5", nangles=8, nslices=2, nrays=16, seed=0)
    assert readers.detect_reader(s.path).name == "hdf5"
    with open_scan(s.path) as scan:
        assert scan.meta.layout == "als" and not scan.closed
    assert scan.closed


def test_a_registered_non_hdf5_reader_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READERS", list(readers.READERS))
    opened = []
    spec = readers.ReaderSpec(
        "fake", lambda p: p.suffix == ".fake", lambda p, **kw: opened.append((p, kw)) or p, "a .fake file"
    )
    readers.register_reader(spec)
    stack = tmp_path / "scan.fake"
    stack.write_text("not hdf5")
    assert open_scan(stack) == stack and opened[0][1]["bad_data"] == "error"
    other = tmp_path / "scan.txt"
    other.write_text("neither")
    with pytest.raises(InputFileError, match="no reader recognises it; expected an HDF5 file .* or a .fake file"):
        open_scan(other)
