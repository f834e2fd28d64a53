"""Bad input to open_scan and the read methods: each raises a specific error naming the
file and the key or value at fault."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from alsmicroct.errors import AlsMicroCTError, InputFileError, LayoutError, RangeError
from alsmicroct.io import open_scan
from alsmicroct.testing import write_random_scan

NANG, NSL, NRAY = 6, 4, 3


def _write(path, layout="als", **kw):
    write_random_scan(
        path,
        nangles=NANG,
        nslices=NSL,
        nrays=NRAY,
        num_darks=2,
        seed=7,
        high=4000,
        layout=layout,
        dataset="errscan",
        **kw,
    )
    return path


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(InputFileError, match="nope.h5.*not found"):
        open_scan(path)


def test_directory(tmp_path):
    with pytest.raises(InputFileError, match="not a file"):
        open_scan(tmp_path)


def test_text_file_named_h5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("this is not HDF5\n" * 50)
    with pytest.raises(InputFileError, match=r"notes\.h5.*not an HDF5 file"):
        open_scan(path)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_truncated_file(tmp_path, layout):
    path = _write(tmp_path / "trunc.h5", layout)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"trunc\.h5.*truncated"), open_scan(path) as scan:
        scan.read_projections()


def test_errors_are_alsmicroct_errors_and_oserror(tmp_path):
    with pytest.raises(AlsMicroCTError):
        open_scan(tmp_path / "x.h5")
    with pytest.raises(OSError):
        open_scan(tmp_path / "x.h5")


def test_hdf5_without_either_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_group("entry/instrument")
        f["entry/values"] = np.arange(3)
    with pytest.raises(LayoutError, match=r"other\.h5.*_0000_<nnnn>\.tif"):
        open_scan(path)


def test_exchange_without_data(tmp_path):
    path = tmp_path / "dx.h5"
    with h5py.File(path, "w") as f:
        f["exchange/data_white"] = np.zeros((1, 2, 2), np.uint16)
    with pytest.raises(LayoutError, match=r"dx\.h5.*'/exchange/data' is missing"):
        open_scan(path)


@pytest.mark.parametrize(
    ("layout", "omit", "message"),
    [
        ("als", ("arange",), r"'arange'"),  # and no rot_angle to infer it from
        # missing pixel size and angles are warnings with a fallback: test_io_foreign.py
    ],
)
def test_missing_required_metadata(tmp_path, layout, omit, message):
    path = _write(tmp_path / f"no_{omit[0]}.h5", layout, omit_attrs=omit)
    with pytest.raises(LayoutError, match=rf"no_{omit[0]}\.h5.*{message}"):
        open_scan(path)


def test_non_numeric_attribute(tmp_path):
    path = _write(tmp_path / "txt.h5")
    with h5py.File(path, "r+") as f:
        f["errscan"].attrs["nangles"] = np.bytes_(b"many\r")  # inferable: not fatal
        f["errscan"].attrs["i0cycle"] = np.bytes_(b"0 200\r")
    with open_scan(path) as scan:
        assert (scan.meta.nangles, scan.meta.i0cycle) == (NANG, 0)
    with h5py.File(path, "r+") as f:
        f["errscan"].attrs["pxsize"] = np.bytes_(b"n/a\r")  # optional: warning, 1/pixel fallback
    with open_scan(path) as scan:
        assert scan.meta.pxsize_source == "none"


def test_missing_projection_image(tmp_path):
    path = _write(tmp_path / "gap.h5")
    with h5py.File(path, "r+") as f:
        del f["errscan/errscan_0000_0003.tif"]
    with pytest.raises(LayoutError, match=r"gap\.h5.*nangles=6.*'errscan_0000_0003\.tif'"):
        open_scan(path)


def test_inconsistent_image_shape(tmp_path):
    path = _write(tmp_path / "shape.h5")
    with h5py.File(path, "r+") as f:
        g = f["errscan"]
        del g["errscanbak_0000_0005.tif"]
        g["errscanbak_0000_0005.tif"] = np.zeros((1, NSL, NRAY + 1), np.uint16)
    with pytest.raises(LayoutError, match=r"shape\.h5.*errscanbak_0000_0005\.tif.*\(1, 4, 4\)"):
        open_scan(path)


def test_inconsistent_dx_shapes(tmp_path):
    path = _write(tmp_path / "dxs.h5", "dxchange")
    with h5py.File(path, "r+") as f:
        del f["exchange/data_dark"]
        f["exchange/data_dark"] = np.zeros((2, NSL - 1, NRAY), np.uint16)
    with pytest.raises(LayoutError, match=r"dxs\.h5.*data_dark.*\(2, 3, 3\).*\(n, 4, 3\)"):
        open_scan(path)
    path = _write(tmp_path / "dxt.h5", "dxchange")
    with h5py.File(path, "r+") as f:
        del f["exchange/theta"]
        f["exchange/theta"] = np.zeros(NANG + 1)
    with pytest.raises(LayoutError, match=r"dxt\.h5.*theta.*7 angles; expected 6"):
        open_scan(path)


def test_several_projection_series(tmp_path):
    path = _write(tmp_path / "series.h5")
    with h5py.File(path, "r+") as f:
        f["errscan/errscan_0001_0000.tif"] = np.zeros((1, NSL, NRAY), np.uint16)
    with pytest.raises(LayoutError, match=r"series\.h5.*several projection series \[0, 1\]"):
        open_scan(path)


@pytest.mark.parametrize("layout", ["als", "dxchange"])
def test_out_of_range(tmp_path, layout):
    path = _write(tmp_path / "range.h5", layout)
    with open_scan(path) as scan:
        with pytest.raises(RangeError, match=r"range\.h5.*rows end=5.*<= 4"):
            scan.read_projections(rows=(0, NSL + 1))
        with pytest.raises(RangeError, match=r"proj start=6.*< 6"):
            scan.read_projections(proj=(NANG, NANG + 1))
        with pytest.raises(RangeError, match="rows start=-5"):
            scan.read_flats(rows=(-5, None))
        with pytest.raises(RangeError, match="step=0"):
            scan.read_darks(rows=(0, 2, 0))
        with pytest.raises(RangeError, match="selects nothing"):
            scan.read_projections(rows=(3, 3))
        with pytest.raises(RangeError, match="not an integer"):
            scan.read_projections(rows=(0.5, 2))
        with pytest.raises(RangeError, match="not a valid range"):
            scan.read_projections(rows="0:2")
        with pytest.raises(RangeError, match="proj end=9"):
            scan.angles(proj=(0, 9))


def test_use_rot_angle_without_rot_angles(tmp_path):
    path = _write(tmp_path / "norot.h5")
    with open_scan(path) as scan:
        assert scan.meta.rot_angles is None
        with pytest.raises(LayoutError, match=r"norot\.h5.*rot_angle"):
            scan.angles(use_rot_angle=True)


def test_read_after_close(tmp_path):
    path = _write(tmp_path / "closed.h5")
    scan = open_scan(path)
    scan.close()
    scan.close()
    with pytest.raises(InputFileError, match=r"closed\.h5.*closed"):
        scan.read_projections()
