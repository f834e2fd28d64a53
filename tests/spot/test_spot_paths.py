"""Dataset names, URL paths, path lists, NERSC helpers and import lightness."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alsmicroct.data_management import (
    NERSC_ArchivePath,
    NERSC_RetrieveData,
    SpotParameterError,
    quote_path,
    raw_path,
    read_path_list,
    split_dataset,
)
from alsmicroct.errors import AlsMicroCTError, InputFileError, ParameterError


@pytest.mark.parametrize(
    ("text", "owner", "expected"),
    [
        ("scan", None, (None, "scan")),
        ("scan.h5", None, (None, "scan")),
        ("scan_h5", None, (None, "scan_h5")),
        ("scan_h5.h5", None, (None, "scan_h5")),
        ("h5", None, (None, "h5")),
        ("scan.h5.h5", None, (None, "scan.h5")),
        ("bob/scan.h5", None, ("bob", "scan")),
        ("bob/scan", "bob", ("bob", "scan")),
        ("scan", "carol", ("carol", "scan")),
        ("  scan_5h  ", None, (None, "scan_5h")),
    ],
)
def test_split_dataset(text, owner, expected):
    assert split_dataset(text, owner) == expected


@pytest.mark.parametrize("bad", ["", ".h5", "a/b/c", "../x", "/x", "bob/", "..", "a\nb"])
def test_split_dataset_rejects(bad):
    with pytest.raises(SpotParameterError) as info:
        split_dataset(bad)
    assert isinstance(info.value, AlsMicroCTError)
    assert isinstance(info.value, ParameterError)


def test_split_dataset_conflicting_owner():
    with pytest.raises(SpotParameterError, match="bob"):
        split_dataset("bob/scan", "alice")


def test_raw_path_and_quoting():
    assert quote_path(raw_path("bob", "scan_h5")) == "als/bl832/bob/scan_h5/raw/scan_h5.h5"
    quoted = quote_path(raw_path("a b", "x?y#z%/"[:-1]))
    assert quoted == "als/bl832/a%20b/x%3Fy%23z%25/raw/x%3Fy%23z%25.h5"
    assert quote_path(["a/b"]) == "a%2Fb"


def test_read_path_list(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# header\n\nscan_a\n  bob/scan_b.h5  # note\n#scan_c\nscan_d\n")
    assert read_path_list(listing) == ["scan_a", "bob/scan_b.h5", "scan_d"]
    with pytest.raises(InputFileError, match="missing.txt"):
        read_path_list(tmp_path / "missing.txt")


def test_nersc_archive_path(tmp_path):
    paths = NERSC_ArchivePath(["a", "b.h5", "carol/c"], "alice", tmp_path)
    assert paths == [
        os.path.join(str(tmp_path), "alice", "a", "raw", ""),
        os.path.join(str(tmp_path), "alice", "b", "raw", ""),
        os.path.join(str(tmp_path), "carol", "c", "raw", ""),
    ]
    assert NERSC_ArchivePath("a", "alice", "/arch") == ["/arch/alice/a/raw/"]


def test_nersc_retrieve_data(tmp_path, monkeypatch, caplog):
    archive = tmp_path / "archive"
    for name, size in (("a", 1000), ("b", 2000)):
        folder = archive / "alice" / name / "raw"
        folder.mkdir(parents=True)
        (folder / f"{name}.h5").write_bytes(os.urandom(size))

    def no_shell(*args, **kwargs):
        raise AssertionError("no shell commands allowed")

    monkeypatch.setattr(os, "system", no_shell)
    monkeypatch.setattr(subprocess, "Popen", no_shell)
    dest = tmp_path / "dest"
    out = NERSC_RetrieveData(["a", "b.h5"], dest, "alice", archive)
    assert out == [str(dest / "a.h5"), str(dest / "b.h5")]
    assert (dest / "b.h5").read_bytes() == (archive / "alice/b/raw/b.h5").read_bytes()
    # A truncated copy is redone, a complete one skipped.
    (dest / "a.h5").write_bytes(b"short")
    caplog.set_level("INFO", logger="alsmicroct.data_management")
    NERSC_RetrieveData(["a", "b"], dest, "alice", archive)
    assert (dest / "a.h5").read_bytes() == (archive / "alice/a/raw/a.h5").read_bytes()
    assert "b.h5 already complete" in caplog.text
    assert sorted(p.name for p in dest.iterdir()) == ["a.h5", "b.h5"]
    # Same size but another file (other modification time): not taken for complete.
    (dest / "b.h5").write_bytes(os.urandom(2000))
    NERSC_RetrieveData(["b"], dest, "alice", archive)
    assert (dest / "b.h5").read_bytes() == (archive / "alice/b/raw/b.h5").read_bytes()
    # The partial copy of a killed run has a fixed name: the next run replaces it.
    (dest / ".a.h5.part").write_bytes(b"left by a killed copy")
    (dest / "a.h5").unlink()
    NERSC_RetrieveData(["a"], dest, "alice", archive)
    assert sorted(p.name for p in dest.iterdir()) == ["a.h5", "b.h5"]
    with pytest.raises(InputFileError, match="missing"):
        NERSC_RetrieveData("missing", dest, "alice", archive)
    assert sorted(p.name for p in dest.iterdir()) == ["a.h5", "b.h5"]


def test_import_is_light():
    code = (
        "import alsmicroct.data_management, alsmicroct.data_management.cli, sys; "
        "heavy = [m for m in ('numpy', 'h5py', 'scipy', 'alsmicroct.reconstruction') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_timeout_alias_does_not_shadow_builtin():
    import builtins

    from alsmicroct import data_management as dm

    assert dm.TimeoutError is dm.SpotTimeoutError
    assert issubclass(dm.SpotTimeoutError, builtins.TimeoutError)
    assert "TimeoutError" not in dm.__all__
    assert issubclass(dm.StagingTimeout, dm.SpotTimeoutError)
    for name in dm.__all__:
        obj = getattr(dm, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, dm.SpotError) or obj is dm.SpotError
