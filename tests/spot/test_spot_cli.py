"""The ``alsmicroct-spot`` command line, run as a subprocess against the test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alsmicroct.testing import SpotServer, make_catalogue
from alsmicroct.testing.spot_server import downloaded_files

PASSWORD = "cli-Secret-77"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = make_catalogue(
        tmp_path_factory.mktemp("spot"), {"alice": ["scan_a", "scan_b", "scan_c"], "bob": ["bob_scan"]}
    )
    with SpotServer(root, users={"alice": PASSWORD}) as srv:
        yield srv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOT_", "ALSMICROCT_", "NETRC"))}
    env.update(HOME=str(tmp_path), SPOT_USERNAME="alice", SPOT_PASSWORD=PASSWORD, **extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alsmicroct.data_management.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_search_and_info(server, tmp_path):
    env = _env(tmp_path, ALSMICROCT_SPOT_URL=server.base_url)
    out = _run(["search", "scan", "--all", "--limit", "2", "--sort-type", "asc"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert [line.split("\t")[0] for line in out.stdout.splitlines()] == ["scan_a", "scan_b", "scan_c", "bob_scan"]
    out = _run(["--base-url", server.base_url, "info", "scan_b.h5", "--images"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["path"] == "als/bl832/alice/scan_b/raw/scan_b.h5"
    assert info["attributes"]["dataset"] == "scan_b"
    assert [d["stage"] for d in info["derived"]] == ["raw", "norm"]
    assert info["images"][0] == "/scan_b/scan_b_0000_0000.tif"
    assert PASSWORD not in out.stdout + out.stderr


def test_stage_and_download_from_list(server, tmp_path):
    listing = tmp_path / "datasets.txt"
    listing.write_text("# raw scans to fetch\n\nscan_a\nbob/bob_scan.h5  # someone else's\n")
    env = _env(tmp_path)
    out = _run(["--base-url", server.base_url, "stage", "scan_c"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("scan_c\t/")
    out = _run(
        ["--base-url", server.base_url, "-v", "download", str(listing), "scan_c", "-o", "raw", "--no-progress"],
        env,
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["raw/scan_a.h5", "raw/bob_scan.h5", "raw/scan_c.h5"]
    assert downloaded_files(tmp_path / "raw") == ["bob_scan.h5", "scan_a.h5", "scan_c.h5"]
    assert "logged in" in out.stderr and PASSWORD not in out.stderr


def test_partial_failure_exit_status(server, tmp_path):
    env = _env(tmp_path)
    out = _run(
        ["--base-url", server.base_url, "download", "scan_a", "missing_scan", "-o", str(tmp_path), "--no-progress"],
        env,
        tmp_path,
    )
    assert out.returncode == 1
    assert "missing_scan" in out.stderr and "1 of 2 datasets failed" in out.stderr
    assert (tmp_path / "scan_a.h5").is_file()


def test_no_credentials_and_usage_errors(server, tmp_path):
    env = _env(tmp_path)
    del env["SPOT_PASSWORD"]
    out = _run(["--base-url", server.base_url, "search"], env, tmp_path)
    assert out.returncode == 1
    assert "SPOT_PASSWORD" in out.stderr and ".netrc" in out.stderr
    out = _run(["frobnicate"], env, tmp_path)
    assert out.returncode == 2


def test_console_script_and_wrapper(server, tmp_path):
    env = _env(tmp_path)
    script = Path(sys.executable).with_name("alsmicroct-spot")
    wrapper = Path(__file__).resolve().parents[2] / "applications" / "spot_download.py"
    for cmd in ([str(script)], [sys.executable, str(wrapper)]):
        if not Path(cmd[-1]).exists():
            pytest.skip(f"{cmd[-1]} is not installed")
        out = subprocess.run(
            [*cmd, "--base-url", server.base_url, "search", "bob"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("bob_scan\tbob\t")


def test_rerun_skips_complete_files_and_refuses_different_ones(server, tmp_path):
    env = _env(tmp_path)
    args = ["--base-url", server.base_url, "download", "scan_a", "-o", "raw", "--no-progress"]
    first = _run(args, env, tmp_path)
    assert first.returncode == 0, first.stderr
    data = (tmp_path / "raw" / "scan_a.h5").read_bytes()
    again = _run(args, env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "raw" / "scan_a.h5").read_bytes() == data
    (tmp_path / "raw" / "scan_a.h5").write_bytes(b"another file")
    refused = _run(args, env, tmp_path)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (tmp_path / "raw" / "scan_a.h5").read_bytes() == b"another file"
    replaced = _run([*args, "--overwrite"], env, tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert (tmp_path / "raw" / "scan_a.h5").read_bytes() == data
    assert downloaded_files(tmp_path / "raw") == ["scan_a.h5"]


def test_bad_inputs_give_messages_not_tracebacks(server, tmp_path):
    env = _env(tmp_path)
    (tmp_path / "file").write_text("x")
    cases = [
        ["--base-url", server.base_url, "download", "scan_a", "-o", str(tmp_path / "file" / "d")],
        ["--base-url", server.base_url, "--retries", "-1", "search"],
        ["--base-url", server.base_url, "--allow-redirect", "nohost", "search"],
        ["--base-url", server.base_url, "--ca-bundle", str(tmp_path / "none.pem"), "search"],
    ]
    for args in cases:
        out = _run(args, env, tmp_path)
        assert out.returncode == 1, (args, out.stderr)
        assert "Traceback" not in out.stderr and "alsmicroct-spot" in out.stderr, args
