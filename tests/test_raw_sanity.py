"""Raw data that cannot be right (issue 12): refused with the file, the image and the count,
or repaired with a warning when ``bad_data="repair"`` / ``badData="repair"`` is asked for.
The checks run inside the readers, so every path (recon with a given cor, centre finding,
Dask parts) gets them."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest

from alsmicroct.errors import AlsMicroCTError, LayoutError, ParameterError
from alsmicroct.io import open_scan
from alsmicroct.io.sanity import check_images, check_references
from alsmicroct.testing import write_random_scan

NANG, NSL, NRAY = 8, 4, 16


def _scan(path, layout="als", dtype=None):
    """A small scan; float32 images when ``dtype`` is float (NaN/inf become possible)."""
    write_random_scan(
        path,
        nangles=NANG,
        nslices=NSL,
        nrays=NRAY,
        num_flats=2,
        num_darks=2,
        seed=3,
        high=4000,
        layout=layout,
        dataset="bad",
    )
    if dtype is not None:
        with h5py.File(path, "r+") as f:
            for _name, dset in list(_image_dsets(f, layout)):
                data = dset[()].astype(dtype)
                parent = dset.parent
                key = dset.name.rsplit("/", 1)[-1]
                attrs = dict(dset.attrs)
                del parent[key]
                parent[key] = data
                parent[key].attrs.update(attrs)
    return path


def _image_dsets(f, layout):
    if layout == "dxchange":
        for key in ("exchange/data", "exchange/data_white", "exchange/data_dark"):
            yield key, f[key]
    else:
        for name in list(f["bad"].keys()):
            yield name, f["bad"][name]


def _set(path, layout, kind, index, value, rows=slice(None), cols=slice(None)):
    """Overwrite image ``index`` of ``kind`` ('proj', 'flat', 'dark') in place."""
    with h5py.File(path, "r+") as f:
        if layout == "dxchange":
            key = {"proj": "exchange/data", "flat": "exchange/data_white", "dark": "exchange/data_dark"}[kind]
            f[key][index, rows, cols] = value
            return f"/{key}[{index}]"
        if kind == "flat":  # flats in read order: by group position, then by index
            name = sorted((n for n in f["bad"] if "bak_" in n), key=lambda n: (n[-8:], n))[index]
        else:
            name = f"bad_0000_{index:04d}.tif" if kind == "proj" else f"baddrk_{index:04d}_{NANG - 1:04d}.tif"
        f["bad"][name][0, rows, cols] = value
        return name


def _read_all(scan):
    scan.read_projections()
    scan.read_flats()
    scan.read_darks()


LAYOUTS = ["als", "dxchange"]


# ----------------------------------------------------------------- refused, naming the image
@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_zero_flat_refused(tmp_path, layout):
    path = _scan(tmp_path / "zf.h5", layout)
    name = _set(path, layout, "flat", 1, 0)
    with open_scan(path) as scan, pytest.raises(LayoutError) as err:
        scan.read_flats()
    msg = str(err.value)
    assert "zf.h5" in msg and repr(name) in msg and f"{NSL} all-zero row" in msg


@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_zero_projection_refused(tmp_path, layout):
    path = _scan(tmp_path / "zp.h5", layout)
    name = _set(path, layout, "proj", 5, 0)
    with open_scan(path) as scan, pytest.raises(LayoutError, match="zp.h5") as err:
        scan.read_projections(rows=(1, 3))
    assert repr(name) in str(err.value) and "2 all-zero row" in str(err.value)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("factor", [1.0, 3.0])  # equal to the flats, brighter than the flats
def test_darks_as_bright_as_flats_refused(tmp_path, layout, factor):
    path = _scan(tmp_path / "df.h5", layout)
    with open_scan(path) as scan:
        flat = scan.read_flats().mean(axis=0)
    for k in range(2):
        _set(
            path,
            layout,
            "dark",
            k,
            np.rint(flat * factor).astype(np.uint16)[None]
            if layout == "als"
            else np.rint(flat * factor).astype(np.uint16),
        )
    with open_scan(path) as scan:
        scan.read_flats()
        with pytest.raises(LayoutError, match=r"df\.h5: the darks .* as bright as or brighter than the flats"):
            scan.read_darks()
    with open_scan(path, bad_data="repair") as scan, pytest.raises(LayoutError, match="cannot be repaired"):
        _read_all(scan)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ["proj", "flat", "dark"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_refused(tmp_path, layout, kind, value):
    path = _scan(tmp_path / "nf.h5", layout, dtype=np.float32)
    name = _set(path, layout, kind, 1, value, rows=2, cols=slice(3, 6))
    with open_scan(path) as scan, pytest.raises(LayoutError) as err:
        _read_all(scan)
    msg = str(err.value)
    assert "nf.h5" in msg and repr(name) in msg and "3 NaN/inf value(s)" in msg and "row 2" in msg


# ----------------------------------------------------------------- repaired on request
@pytest.mark.parametrize("layout", LAYOUTS)
def test_nonfinite_repaired_by_interpolation(tmp_path, layout, caplog):
    path = _scan(tmp_path / "rp.h5", layout, dtype=np.float32)
    with open_scan(path) as scan:
        clean = scan.read_projections()
    name = _set(path, layout, "proj", 2, np.nan, rows=1, cols=5)
    with caplog.at_level(logging.WARNING), open_scan(path, bad_data="repair") as scan:
        data = scan.read_projections()
    assert np.isfinite(data).all()
    expected = 0.5 * (clean[2, 1, 4] + clean[2, 1, 6])
    assert data[2, 1, 5] == pytest.approx(expected)
    np.testing.assert_array_equal(
        np.delete(data.reshape(-1), 2 * NSL * NRAY + NRAY + 5), np.delete(clean.reshape(-1), 2 * NSL * NRAY + NRAY + 5)
    )
    assert any(
        name in r.getMessage() and "1 NaN/inf" in r.getMessage() and "repaired" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_projection_repaired_as_transmission_one(tmp_path, layout, caplog):
    path = _scan(tmp_path / "zr.h5", layout)
    name = _set(path, layout, "proj", 4, 0)
    with caplog.at_level(logging.WARNING), open_scan(path, bad_data="repair") as scan:
        data = scan.read_projections(rows=(1, 3))
        flats = scan.read_flats(rows=(1, 3))
    np.testing.assert_allclose(data[4], flats.mean(axis=0), rtol=1e-6)
    assert any(name in r.getMessage() and "2 all-zero row" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_zero_flat_repaired_from_other_flats(tmp_path, layout):
    path = _scan(tmp_path / "zfr.h5", layout)
    with open_scan(path) as scan:
        clean = scan.read_flats()
    _set(path, layout, "flat", 0, 0)
    with open_scan(path, bad_data="repair") as scan:
        flats = scan.read_flats()
    np.testing.assert_allclose(flats[0], clean[1:].mean(axis=0), rtol=1e-6)


def test_no_valid_flat_cannot_be_repaired(tmp_path):
    path = _scan(tmp_path / "nof.h5")
    for k in range(4):
        _set(path, "als", "flat", k, 0)
    with open_scan(path, bad_data="repair") as scan, pytest.raises(LayoutError, match="cannot be repaired"):
        scan.read_flats()


def test_dead_pixels_are_a_warning_not_a_refusal(tmp_path, caplog):
    path = _scan(tmp_path / "dead.h5")
    _set(path, "als", "dark", 0, 65535, rows=1, cols=3)
    _set(path, "als", "dark", 1, 65535, rows=1, cols=3)
    with caplog.at_level(logging.WARNING), open_scan(path) as scan:
        _read_all(scan)
    assert any("1 dead pixel" in r.getMessage() for r in caplog.records)


def test_good_data_unchanged_and_policy_checked(tmp_path):
    path = _scan(tmp_path / "ok.h5")
    with open_scan(path) as a, open_scan(path, bad_data="repair") as b:
        np.testing.assert_array_equal(a.read_projections(), b.read_projections())
    with pytest.raises(ParameterError, match="badData='fix'"):
        open_scan(path, bad_data="fix")


def test_pure_functions_on_chunks():
    chunk = np.ones((3, 2, 4), np.float32)
    chunk[1, 0, 2] = np.nan
    with pytest.raises(LayoutError, match=r"f\.h5: 1 NaN/inf value\(s\) in 1 projection image\(s\) 'p1', row 10"):
        check_images(chunk.copy(), kind="projection", names=["p0", "p1", "p2"], rows=[10, 11], where="f.h5")
    fixed = check_images(
        chunk.copy(), kind="projection", names=["p0", "p1", "p2"], rows=[10, 11], where="f.h5", policy="repair"
    )
    assert np.isfinite(fixed).all()
    assert check_references(np.full((2, 4), 10.0), np.zeros((2, 4)), rows=[0, 1], where="f.h5") == 0


# ----------------------------------------------------------------- every path of recon()
@pytest.mark.parametrize("bad", ["zero_flats", "bright_darks", "zero_projection"])
@pytest.mark.parametrize("cor", [None, 7.5])
def test_recon_refuses_bad_raw_data_with_or_without_cor(tmp_path, bad, cor):
    from alsmicroct.reconstruction import recon

    path = _scan(tmp_path / f"{bad}.h5")
    if bad == "zero_flats":
        for k in range(4):
            _set(path, "als", "flat", k, 0)
    elif bad == "bright_darks":
        for k in range(2):
            _set(path, "als", "dark", k, 65000)
    else:
        _set(path, "als", "proj", 3, 0)
    with pytest.raises(AlsMicroCTError, match=rf"{bad}\.h5"):
        recon(
            path.name,
            inputPath=str(tmp_path),
            cor=cor,
            corFunction="vo",
            doFWringremoval=False,
            outputPath=str(tmp_path / "out"),
            quicklook=False,
        )


def test_ignored_projections_are_not_checked(tmp_path):
    """projIgnoreList frames are zeroed later: a dropped frame there is no reason to refuse."""
    path = _scan(tmp_path / "ign.h5")
    _set(path, "als", "proj", 3, 0)
    with open_scan(path, skip_projections=[3]) as scan:
        data = scan.read_projections()
        assert not data[3].any() and data[4].all()
    with open_scan(path, skip_projections=[2]) as scan, pytest.raises(LayoutError, match="bad_0000_0003"):
        scan.read_projections()
    with open_scan(path, skip_projections=[3]) as scan:
        assert scan.read_projections(proj=3).shape[0] == 1
