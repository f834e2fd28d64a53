"""Provenance: a JSON record next to every reconstruction.

It holds every parameter as used (defaults resolved), the centre, the input file's name,
size and modification time, software versions, timings and the run's status. It is
rewritten atomically, so a reader never sees half a file; ``status`` is ``"running"``
while slices are being written, then ``"complete"`` or ``"failed"``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from ..io.atomic import jsonable, write_json_atomic
from ..io.outputs import PROVENANCE_NAME

__all__ = [
    "PROVENANCE_NAME",
    "fingerprint",
    "fingerprint_of",
    "now",
    "provenance_record",
    "provenance_status",
    "read_provenance",
    "run_differences",
    "same_run",
    "write_provenance",
]


def _versions() -> dict[str, str]:
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Python, platform and package versions: looked up once per process (~15 ms each time,
    and a run writes its record twice)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("alsmicroct", "numpy", "scipy", "h5py", "tifffile", "PyWavelets", "finufft", "numba"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return tuple(out.items())


# How a run was executed or how its paths were spelled: the slices do not depend on them
# (the resolved input path, size and mtime are compared instead).
_NOT_IN_RESULT = ("inputPath", "outputPath", "chunk_proj", "chunk_sino", "num_threads", "memoryCheck")


def fingerprint(plan: Any) -> dict[str, Any]:
    """What must match for a resumed run to be allowed to keep existing slices."""
    return fingerprint_of(plan.path, plan.params, plan.cor)


def fingerprint_of(path: Path, params: Any, cor: float | None) -> dict[str, Any]:
    """Fingerprint of a run of ``params`` on raw file ``path`` with centre ``cor`` (JSON-normalised)."""
    stat = Path(path).stat()
    return json.loads(
        json.dumps(
            jsonable(
                {
                    "input": str(path),
                    "input_size": stat.st_size,
                    "input_mtime": stat.st_mtime,
                    "parameters": {k: v for k, v in params.to_dict().items() if k not in _NOT_IN_RESULT},
                    "cor": cor,
                }
            )
        )
    )


def run_differences(
    recorded: dict[str, Any] | None, wanted: dict[str, Any], *, ignore: tuple[str, ...] = ()
) -> list[str]:
    """What differs between two fingerprints (empty: the same run).

    This is the one "same run" rule, used by resume, by batch ``--resume`` and by the merge
    of a split run's parts. ``ignore`` names parameters (or ``"cor"``) not to compare: a
    part of a split run differs from the whole only by ``sinoused``; a batch job whose
    centre is found automatically does not know it yet.
    """
    if not recorded:
        return ["no fingerprint recorded"]
    out = []
    if recorded.get("input") != wanted.get("input"):
        out.append(f"input {recorded.get('input')} (not {wanted.get('input')})")
    elif (recorded.get("input_size"), recorded.get("input_mtime")) != (wanted["input_size"], wanted["input_mtime"]):
        out.append(f"another version of {wanted.get('input')} (size or modification time differ)")
    if "cor" not in ignore and recorded.get("cor") != wanted.get("cor"):
        out.append(f"cor={recorded.get('cor')} (not {wanted.get('cor')})")
    theirs, ours = recorded.get("parameters") or {}, wanted.get("parameters") or {}
    defaults = _defaults()  # a parameter missing from an older record had its default then
    for key in sorted(set(theirs) | set(ours)):  # "cor" as given: the resolved centre above decides
        mine, other = ours.get(key, defaults.get(key)), theirs.get(key, defaults.get(key))
        if key not in ignore and key not in (*_NOT_IN_RESULT, "cor") and other != mine:
            out.append(f"{key}={other!r} (not {mine!r})")
    return out


def _defaults() -> dict[str, Any]:
    from ..params import ReconParams

    return json.loads(json.dumps(jsonable(ReconParams().to_dict())))


def same_run(recorded: dict[str, Any] | None, wanted: dict[str, Any], *, ignore: tuple[str, ...] = ()) -> bool:
    """Whether fingerprint ``recorded`` describes the run ``wanted`` (see :func:`run_differences`)."""
    return not run_differences(recorded, wanted, ignore=ignore)


def provenance_record(
    plan: Any,
    *,
    status: str,
    timings: dict[str, float] | None = None,
    error: str | None = None,
    nfiles: int | None = None,
    started: str | None = None,
    convergence: list[dict] | None = None,
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the provenance dict of ``plan`` (a resolved ReconPlan).

    ``quality``: the run's quality report
    (:meth:`alsmicroct.pipeline.quality_report.QualityGather.report`), its ``"quality"`` entry.

    ``convergence``: the convergence log of each row block of an iterative run (the
    ``"iterative"`` entry then holds the algorithm, its options and the logs, by first row).
    """
    stat = plan.path.stat()
    theta_deg = [float(v) for v in (plan.theta[0] * 180 / 3.141592653589793, plan.theta[-1] * 180 / 3.141592653589793)]
    rows = [int(plan.rows[0]), int(plan.rows[-1]), int(plan.rows[1] - plan.rows[0]) if plan.rows.size > 1 else 1]
    record = {
        "status": status,
        "host": platform.node(),
        "pid": os.getpid(),
        "started": started or now(),
        "updated": now(),
        "input": {
            "path": str(plan.path),
            "size_bytes": stat.st_size,
            "mtime": _dt.datetime.fromtimestamp(stat.st_mtime, _dt.timezone.utc).isoformat(),
            "mtime_s": stat.st_mtime,
            "layout": plan.meta.layout,
            "dataset": plan.meta.dataset,
        },
        "parameters": plan.params.to_dict(),
        "resolved": {
            "cor": plan.cor,
            "centre_confidence": plan.center_info,
            "tilt": plan.tilt_info,
            "recon_center": plan.recon_center,
            "npad": plan.npad,
            "width": plan.width,
            "rows_first_last_step": rows,
            "nrows": int(plan.rows.size),
            "projections_first_last": [int(plan.proj_indices[0]), int(plan.proj_indices[-1])],
            "nprojections": int(plan.proj_indices.size),
            "theta_first_last_deg": theta_deg,
            "pixel_size_cm": plan.pxsize_cm,
            "propagation_dist_cm": plan.dist_cm,
            "energy_kev": plan.energy_kev,
            "beam_hardening_coefficients": list(plan.bh_coefficients),
            "output_dir": str(plan.output_dir),
            "file_pattern": f"{plan.prefix}_NNNNN.tiff (NNNNN = row)",
            "units": "uint8 levels" if plan.params.castTo8bit else "1/cm",
            "output_format": plan.params.outputFormat,
            "volume": str(plan.volume_path),
            "block_rows_memory_cap": getattr(plan, "block_cap", None),  # memoryCheck="fit" made blocks smaller
        },
        "fingerprint": fingerprint(plan),
        "software": _versions(),
        "timings_s": timings or {},
        "error": error,
        "nfiles": nfiles,
    }
    if quality is not None:
        record["quality"] = quality
    options = plan.params.iterative_options()
    if options is not None:
        blocks = sorted(convergence or [], key=lambda b: b["rows"][0])
        record["iterative"] = {"algorithm": plan.params.algorithm, "options": options, "blocks": blocks}
    return jsonable(record)


def write_provenance(path: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as JSON to ``path`` atomically (temporary name, fsync, rename)."""
    return write_json_atomic(path, record, what="provenance record")


def read_provenance(output_dir: str | os.PathLike, name: str = PROVENANCE_NAME) -> dict[str, Any] | None:
    """The provenance record in ``output_dir`` (None if absent or unreadable)."""
    path = Path(output_dir) / name
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def provenance_status(output_dir: str | os.PathLike, name: str = PROVENANCE_NAME) -> str | None:
    """``"complete"``, ``"running"``, ``"failed"`` or None (no record) for ``output_dir``."""
    record = read_provenance(output_dir, name)
    return None if record is None else record.get("status")


def now() -> str:
    """Current UTC time, ISO 8601 to the second (the record's timestamps)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
