"""recon(algorithm="sirt"|"cgls"|"tv") end to end: parameters, Runner, provenance, batch lists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from alsmicroct.errors import ParameterError
from alsmicroct.params import ReconParams, parameter_help
from alsmicroct.reconstruction import recon

REPO = Path(__file__).resolve().parents[1]


def test_cgls_end_to_end_matches_truth_and_is_recorded(sim_scans, tmp_path):
    scan = sim_scans["als"]
    kw = dict(inputPath=scan.path.parent, outputPath=tmp_path, cor=scan.cor, doFWringremoval=False)
    res = recon(scan.path.name, algorithm="cgls", outputFilename="it", **kw)
    ref = recon(
        scan.path.name,
        outputFilename="gr",
        outputPath=tmp_path / "g",
        **{k: v for k, v in kw.items() if k != "outputPath"},
    )
    truth = scan.volume()
    n = truth.shape[-1]
    fov = np.hypot(*(np.mgrid[:n, :n] - (n - 1) / 2.0)) < n / 2 - 2
    for row, (f_it, f_gr) in enumerate(zip(res.files, ref.files, strict=True)):
        it, gr = tifffile.imread(f_it), tifffile.imread(f_gr)
        t = truth[row]
        scale = float((it[fov] * t[fov]).sum() / (t[fov] ** 2).sum())
        assert abs(scale - 1.0) < 0.05
        err_it = np.sqrt(np.mean((it[fov] - t[fov]) ** 2))
        err_gr = np.sqrt(np.mean((gr[fov] - t[fov]) ** 2))
        assert err_it < 1.3 * err_gr  # fully sampled: about as good as gridrec
    record = json.loads(res.provenance_path.read_text())
    info = record["iterative"]
    assert info["algorithm"] == "cgls" and info["options"]["num_iter"] == 30
    assert info["blocks"] and all(b["residual"] for b in info["blocks"])
    assert record["parameters"]["algorithm"] == "cgls"
    assert "iterative" not in json.loads(ref.provenance_path.read_text())


def test_tv_in_a_batch_path_list_line(sim_scans, tmp_path):
    scan = sim_scans["dxchange"]
    lst = tmp_path / "list.txt"
    lst.write_text(f"{scan.path.name} algorithm=tv num_iter=30 cor={scan.cor} outputPath={tmp_path / 'out'}\n")
    res = subprocess.run(
        [sys.executable, str(REPO / "applications" / "recon_batch.py"), str(lst), "--input-dir", str(scan.path.parent)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr + res.stdout
    records = list((tmp_path / "out").rglob("recon_parameters*.json"))
    assert records, res.stdout
    info = json.loads(records[0].read_text())["iterative"]
    assert info["algorithm"] == "tv" and info["options"]["num_iter"] == 30
    assert len(info["blocks"][0]["residual"]) == 30


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"num_iter": 50}, "num_iter=50 is an option of the iterative algorithms"),
        ({"algorithm": "cgls", "nonneg": "yes"}, "nonneg=True is not supported by algorithm='cgls'"),
        ({"algorithm": "tv", "tv_weight": "2"}, "tv_weight=2.0: must be <= 1"),
        ({"algorithm": "sirt", "relaxation": 2.0}, "relaxation=2.0"),
        ({"algorithm": "sirt", "num_iter": -1}, "num_iter=-1"),
        ({"algorithm": "sirt", "num_iter": 100000}, "num_iter=100000"),
        ({"algorithm": "tv", "iter_start": "fpb"}, "iter_start='fpb'"),
        ({"algorithm": "cgls", "iter_tol": 1.5}, "iter_tol=1.5"),
        ({"algorithm": "cglss"}, "did you mean 'cgls'"),
        ({"num_iters": 3}, "did you mean 'num_iter'"),
        ({"algorithm": "sirt", "num_iter": 0}, "num_iter=0"),
        ({"algorithm": "sirt", "num_iter": True}, "num_iter=True"),
        ({"algorithm": "tv", "tv_weight": float("nan")}, "tv_weight=nan"),
        ({"algorithm": "cgls", "filter_name": "ramlak"}, "filter_name='ramlak' applies to gridrec and fbp"),
        ({"algorithm": "tv", "butterworth_cutoff": 0.5}, "butterworth_cutoff=0.5 applies to gridrec and fbp"),
        ({"algorithm": "sirt", "butterworth_order": 4}, "butterworth_order=4 applies"),
        ({"algorithm": "cgls", "npad": 10}, "npad=10 applies to gridrec and fbp, not to algorithm='cgls'"),
    ],
)
def test_bad_iterative_parameters(values, match):
    with pytest.raises(ParameterError, match=match):
        ReconParams.from_mapping(values)


def test_iterative_parameters_are_documented():
    text = parameter_help()
    for name in ("num_iter", "nonneg", "relaxation", "tv_weight", "iter_tol", "iter_start"):
        assert name in text.split("Reconstruction:")[1].split("\n\n")[0]
    assert ReconParams(algorithm="sirt", num_iter="40").iterative_options()["num_iter"] == 40
