"""Package-level promises: light import, public modules, README and CI agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import alsmicroct

ROOT = Path(__file__).resolve().parents[1]


def test_version_and_public_modules():
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", alsmicroct.__version__)
    for name in ("data_management", "reconstruction", "image_processing"):
        module = getattr(alsmicroct, name)
        assert module.__all__, name
    assert callable(alsmicroct.reconstruction.recon)
    assert alsmicroct.data_management.SpotSession


def test_import_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import alsmicroct; dt = time.perf_counter() - t; "
        "heavy = [m for m in ('numpy', 'h5py', 'scipy', 'numba', 'matplotlib', 'requests') if m in sys.modules]; "
        "print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(
        maxsplit=1
    )
    assert float(out[0]) < 0.5 and out[1].strip() == "[]", out


def test_readme_holds_the_ci_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text()
    assert ci in readme, ci
    assert "alsmicroct-example" in readme


def test_no_forbidden_requirements():
    text = (ROOT / "pyproject.toml").read_text().lower()
    deps = text.split("[project.optional-dependencies]")[0]
    assert "tomopy" not in deps and "dxchange" not in deps


def test_applications_are_thin_wrappers():
    for script in (ROOT / "applications").glob("*.py"):
        lines = [ln for ln in script.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert len(lines) <= 12, f"{script.name} should only call a main() from alsmicroct.cli"


def test_compat_re_exports_still_work():
    """The one test on the old import paths (kept for one release; every other test uses cli/jobs)."""
    import alsmicroct.apps._common as old_common
    import alsmicroct.apps.recon_batch as old_batch
    import alsmicroct.distributed as old_distributed
    from alsmicroct.cli import distributed as cli_distributed
    from alsmicroct.cli import recon_batch
    from alsmicroct.jobs import clusters, entries, parts
    from alsmicroct.pipeline import cluster

    assert old_batch.main is recon_batch.main and old_batch.read_path_list is recon_batch.read_path_list
    assert old_common.load_config is entries.load_config and old_common.ScanEntry is entries.ScanEntry
    assert old_distributed.make_cluster is clusters.make_cluster
    assert old_distributed.merge_parts is parts.merge_parts
    assert old_distributed.run_on_client is cluster.run_on_client
    assert old_distributed.main is cli_distributed.main
