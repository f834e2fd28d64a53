"""recon(..., outputFormat="zarr" | "h5"): same values as the TIFF output, NGFF metadata, resume,
Dask, path-list overrides and the refusals (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alsmicroct.errors import OutputError, ParameterError
from alsmicroct.reconstruction import recon

zarr = pytest.importorskip("zarr")
REPO = Path(__file__).resolve().parents[1]
COMMON = dict(chunk_sino=4, num_threads=1, cor=20.3)


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    from alsmicroct.sim import simulate_scan

    folder = tmp_path_factory.mktemp("vol_raw")
    simulate_scan(folder / "s.h5", layout="als", phantom="shepp", nangles=60, nslices=10, nrays=40, cor=20.3, seed=2)
    return folder


@pytest.fixture(scope="module")
def tiff_volume(raw, tmp_path_factory) -> np.ndarray:
    from alsmicroct.io.tiff import read_tiff

    res = recon("s.h5", raw, outputPath=str(tmp_path_factory.mktemp("tiff")), quicklook=False, **COMMON)
    return np.stack([read_tiff(f) for f in res.files])


def _chunks(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes()
        for p in sorted(store.rglob("*"))
        if p.is_file() and p.name not in ("zarr.json", ".zattrs")
    }


def test_zarr_output_equals_tiff_and_is_valid_ngff(raw, tiff_volume, tmp_path):
    from ome_zarr_models import open_ome_zarr

    from alsmicroct.io.volumes import open_volume

    res = recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", zarrMultiscale=True, **COMMON)
    store = res.output_dir / "s.ome.zarr"
    assert res.files == [store]
    group = zarr.open_group(str(store), mode="r")
    np.testing.assert_array_equal(group["0"][:], tiff_volume)
    assert group["0"].chunks[0] == 4 and group.metadata.zarr_format == 3
    image = open_ome_zarr(group)
    ms = image.ome_attributes.multiscales[0]
    px_um = json.loads((res.output_dir / "recon_parameters.json").read_text())["resolved"]["pixel_size_cm"] * 1e4
    assert ms.datasets[0].coordinateTransformations[0].scale == pytest.approx([px_um] * 3)
    assert [a.unit for a in ms.axes] == ["micrometer"] * 3
    meta = group.attrs["alsmicroct"]
    assert meta["provenance"]["parameters"]["outputFormat"] == "zarr" and meta["cor"] == 20.3
    assert meta["units"] == "1/cm"
    assert (res.output_dir / "s_quicklook.png").stat().st_size > 1000
    assert not list(res.output_dir.glob("*.tiff"))
    with open_volume(store) as vol:
        np.testing.assert_array_equal(vol[3:7, 5:30, 2:3], tiff_volume[3:7, 5:30, 2:3])
    again = recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", zarrMultiscale=True, **COMMON)
    assert again.files == [store]  # complete: kept, nothing written


def test_h5_and_ngff04_outputs_equal_tiff(raw, tiff_volume, tmp_path):
    import h5py

    res = recon("s.h5", raw, outputPath=str(tmp_path / "h"), outputFormat="h5", quicklook=False, **COMMON)
    with h5py.File(res.files[0], "r") as fh:
        np.testing.assert_array_equal(fh["/exchange/data"][:], tiff_volume)
        assert json.loads(fh.attrs["alsmicroct"])["provenance"]["status"] == "complete"
    res = recon(
        "s.h5", raw, outputPath=str(tmp_path / "z"), outputFormat="zarr", ngffVersion="0.4", quicklook=False, **COMMON
    )
    group = zarr.open_group(str(res.files[0]), mode="r")
    assert group.metadata.zarr_format == 2 and group.attrs["multiscales"][0]["version"] == "0.4"
    np.testing.assert_array_equal(group["0"][:], tiff_volume)


def test_zarr_crash_then_resume_identical(raw, tmp_path, monkeypatch):
    from alsmicroct.io.volume_zarr import ZarrVolumeWriter

    ref = recon("s.h5", raw, outputPath=str(tmp_path / "ref"), outputFormat="zarr", quicklook=False, **COMMON)
    real = ZarrVolumeWriter._write_layer
    calls = []

    def failing(self, layer, data):
        calls.append(layer)
        if len(calls) == 2:
            raise OSError("disk gone")
        real(self, layer, data)

    monkeypatch.setattr(ZarrVolumeWriter, "_write_layer", failing)
    with pytest.raises(OSError, match="disk gone"):
        recon("s.h5", raw, outputPath=str(tmp_path / "run"), outputFormat="zarr", quicklook=False, **COMMON)
    monkeypatch.setattr(ZarrVolumeWriter, "_write_layer", real)
    out = tmp_path / "run" / "recs" / "s.ome.zarr"
    assert "ome" not in zarr.open_group(str(out), mode="r").attrs  # incomplete: does not look complete
    written = []
    monkeypatch.setattr(
        ZarrVolumeWriter, "_write_layer", lambda self, layer, data: (written.append(layer), real(self, layer, data))
    )
    recon("s.h5", raw, outputPath=str(tmp_path / "run"), outputFormat="zarr", quicklook=False, **COMMON)
    assert 0 not in written and written  # layer 0 kept, the rest written
    assert _chunks(out) == _chunks(ref.files[0])


def test_bad_outputs_refused_nothing_overwritten(raw, tmp_path):
    with pytest.raises(ParameterError, match="did you mean 'zarr'"):
        recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zar", **COMMON)
    res = recon("s.h5", raw, outputPath=str(tmp_path), quicklook=False, **COMMON)  # TIFF
    before = sorted(p.name for p in res.output_dir.iterdir())
    with pytest.raises(OutputError, match="outputFormat='tiff' \\(not 'zarr'\\)"):
        recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", quicklook=False, **COMMON)
    assert sorted(p.name for p in res.output_dir.iterdir()) == before
    z = recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", quicklook=False, resume=False, **COMMON)
    assert not list(res.output_dir.glob("*.tiff")) and z.files[0].is_dir()
    (res.output_dir / "recon_parameters.json").unlink()  # a store no record describes
    with pytest.raises(OutputError, match="no record describes"):
        recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", quicklook=False, **COMMON)
    with pytest.raises(OutputError, match="format 'zarr'"):
        recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="h5", quicklook=False, **COMMON)
    lock = res.output_dir / ".s.ome.zarr.lock"
    recon(
        "s.h5",
        raw,
        outputPath=str(tmp_path),
        outputFormat="zarr",
        quicklook=False,
        resume=False,
        zarrMultiscale=False,
        sinoused=(0, 8, 1),
        **{k: v for k, v in COMMON.items()},
    )
    assert not lock.exists()


def test_slurm_parts_refuse_zarr(raw, tmp_path):
    from alsmicroct.jobs.parts import recon_part

    with pytest.raises(ParameterError, match="SLURM row parts write TIFF"):
        recon_part("s.h5", 1, 2, raw, outputPath=str(tmp_path), outputFormat="zarr", **COMMON)
    assert not (tmp_path / "recs").exists()


def test_dask_zarr_equals_serial_and_h5_refused(raw, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client

    from alsmicroct.jobs.clusters import make_cluster

    serial = recon(
        "s.h5",
        raw,
        outputPath=str(tmp_path / "serial"),
        outputFormat="zarr",
        quicklook=False,
        chunk_sino=2,
        num_threads=1,
        cor=20.3,
    )
    with make_cluster("local", n_workers=2) as cluster, Client(cluster) as client:
        res = recon(
            "s.h5",
            raw,
            outputPath=str(tmp_path / "dask"),
            outputFormat="zarr",
            quicklook=False,
            chunk_sino=2,
            num_threads=1,
            cor=20.3,
            client=client,
        )
        with pytest.raises(ParameterError, match="Dask"):
            recon("s.h5", raw, outputPath=str(tmp_path / "h5"), outputFormat="h5", client=client, **COMMON)
    assert _chunks(res.files[0]) == _chunks(serial.files[0])


def test_path_list_line_with_output_format_zarr(raw, tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text(f"{raw / 's.h5'} outputFormat=zarr ngffVersion=0.4 cor=20.3 sinoused=0,4,1\n")
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "applications" / "recon_batch.py"),
            str(lst),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    group = zarr.open_group(str(tmp_path / "out" / "recs" / "s.ome.zarr"), mode="r")
    assert group["0"].shape == (4, 40, 40) and group.metadata.zarr_format == 2


def test_convert_crop_8bit_every_format_and_view(raw, tiff_volume, tmp_path, monkeypatch):
    import types

    from ome_zarr_models import open_ome_zarr

    import alsmicroct
    from alsmicroct.image_processing import convert_DirectoryTo8Bit, convert_to_zarr, crop_Directory
    from alsmicroct.io.volumes import open_volume
    from alsmicroct.post.cast import to_uint8

    res = recon("s.h5", raw, outputPath=str(tmp_path), quicklook=False, **COMMON)
    store = convert_to_zarr(res.output_dir, chunks=(4, 16, 16))
    assert store == res.output_dir.with_name("recs.ome.zarr")
    group = zarr.open_group(str(store), mode="r")
    np.testing.assert_array_equal(group["0"][:], tiff_volume)
    open_ome_zarr(group)
    px_um = json.loads((res.output_dir / "recon_parameters.json").read_text())["resolved"]["pixel_size_cm"] * 1e4
    with open_volume(store) as vol:
        assert vol.attrs["voxel_size_um"] == pytest.approx([px_um] * 3)
        assert vol.attrs["provenance"]["parameters"]["cor"] == 20.3
    h5 = Path(crop_Directory(store, x=(2, 30), z=(1, 9), outputpath=tmp_path / "c.h5", output_format="h5")[0])
    with open_volume(h5) as vol:
        np.testing.assert_array_equal(vol[:], tiff_volume[1:9, :, 2:30])
    tz = Path(crop_Directory(res.output_dir, y=(3, 20), output_format="zarr")[0])
    np.testing.assert_array_equal(open_volume(tz)[:], tiff_volume[:, 3:20])
    eight = Path(convert_DirectoryTo8Bit(store, -1.0, 5.0)[0])
    assert eight.name == "recs_8bit.ome.zarr"
    np.testing.assert_array_equal(open_volume(eight)[:], to_uint8(tiff_volume, dmin=-1.0, dmax=5.0))
    back = Path(convert_DirectoryTo8Bit(h5, -1.0, 5.0, outputpath=tmp_path / "t8", output_format="tiff")[0])
    assert len(list(back.glob("*.tiff"))) == 8

    monkeypatch.setitem(sys.modules, "napari", None)
    with pytest.raises(ParameterError, match="napari"):
        alsmicroct.view(store)
    shown = {}

    class Viewer:
        def __init__(self, title):
            self.scale_bar = types.SimpleNamespace()

        def add_image(self, data, **kw):
            shown.update(kw, data=data)

    monkeypatch.setitem(sys.modules, "napari", types.SimpleNamespace(Viewer=Viewer, run=lambda: None))
    alsmicroct.view(store)
    assert shown["multiscale"] is False and shown["scale"] == pytest.approx([px_um] * 3)


def test_cli_crop_and_8bit_other_formats(raw, tiff_volume, tmp_path):
    from alsmicroct.cli import convert_8bit, crop
    from alsmicroct.io.volumes import open_volume

    res = recon("s.h5", raw, outputPath=str(tmp_path), outputFormat="zarr", quicklook=False, **COMMON)
    store = res.files[0]
    assert crop.main([str(store), "--x", "5:25", "--output-format", "h5", "--output-dir", str(tmp_path / "c")]) == 0
    (h5,) = (tmp_path / "c").rglob("*.h5")
    np.testing.assert_array_equal(open_volume(h5)[:], tiff_volume[:, :, 5:25])
    assert convert_8bit.main([str(store), "--min", "0", "--max", "4", "--output-dir", str(tmp_path / "e")]) == 0
    assert list((tmp_path / "e").rglob("*.ome.zarr"))


@pytest.mark.parametrize("version", ["0.5", "0.4"])
def test_zarr_output_read_by_ome_zarr_and_ngff_zarr(raw, tiff_volume, tmp_path, version):
    """The store as the two community readers see it (both optional: heavy dependencies)."""
    ome_reader = pytest.importorskip("ome_zarr.reader")
    ome_io = pytest.importorskip("ome_zarr.io")
    ngff_zarr = pytest.importorskip("ngff_zarr")

    res = recon(
        "s.h5",
        raw,
        outputPath=str(tmp_path),
        outputFormat="zarr",
        zarrMultiscale=True,
        ngffVersion=version,
        quicklook=False,
        **COMMON,
    )
    store = res.files[0]
    (node,) = list(ome_reader.Reader(ome_io.parse_url(str(store)))())
    np.testing.assert_array_equal(np.asarray(node.data[0]), tiff_volume)
    assert [a["unit"] for a in node.metadata["axes"]] == ["micrometer"] * 3
    ms = ngff_zarr.from_ngff_zarr(str(store))
    np.testing.assert_array_equal(np.asarray(ms.images[0].data), tiff_volume)
    assert ms.images[0].dims == ("z", "y", "x") and ms.images[0].axes_units["x"] == "micrometer"
    px_um = json.loads((res.output_dir / "recon_parameters.json").read_text())["resolved"]["pixel_size_cm"] * 1e4
    assert ms.images[0].scale["x"] == pytest.approx(px_um)
