"""Reconstruction of raw ALS 8.3.2 scans: :func:`recon`, raw HDF5 in, TIFF stack out.

``recon()`` keeps the legacy keyword set of the beamline's old toolkit (same names, same
defaults; see :class:`alsmicroct.params.ReconParams`), but checks every keyword (a typo is
an error with a "did you mean" hint), streams datasets larger than memory in chunks,
writes every slice atomically, can resume, and records what it did next to the slices.

Output: ``<outputPath>/rec<stem>/<outputFilename>_<NNNNN>.tiff`` (NNNNN = absolute detector
row), float32 in linear attenuation (1/cm) -- or uint8 with ``castTo8bit`` -- plus
``recon_parameters.json`` (provenance) and ``<outputFilename>_quicklook.png``.

Orientation: slice row 0 is at the top; the rotation axis is at the slice centre
``((N-1)/2, (N-1)/2)``; with the legacy angle list the images match the beamline's earlier
TomoPy-based reconstructions (see docs/geometry.md), without TomoPy's half-pixel shift and
~10 % scale error.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputFileError
from .params import ReconParams
from .params import parameter_help as _parameter_help
from .pipeline.plan import output_dir_for
from .pipeline.provenance import provenance_status

__all__ = ["recon", "ReconResult", "output_dir_for", "provenance_status", "find_centers", "try_centers",
           "resolve_center", "write_quicklook"]

logger = logging.getLogger(__name__)


@dataclass
class ReconResult:
    """What :func:`recon` did.

    Attributes
    ----------
    cor : float
        Centre of rotation used, pixels from the left edge of the unpadded detector row.
    output_dir : Path
        Folder holding the slices.
    files : list of Path
        Slice files, one per reconstructed row, in row order.
    timings : dict
        Wall time per stage, seconds (``centre``, ``read``, ``prep``, ``reconstruct``,
        ``post``, ``write`` summed over threads, ``total`` end to end).
    params : ReconParams
        Parameters as used.
    provenance_path : Path
        The JSON provenance record.
    status : str
        ``"complete"``.
    rows : list of int
        Absolute detector rows reconstructed.
    skipped : int
        Slices kept from an earlier run (resume).
    """

    cor: float
    output_dir: Path
    files: list[Path]
    timings: dict[str, float]
    params: ReconParams
    provenance_path: Path
    status: str = "complete"
    rows: list[int] = field(default_factory=list)
    skipped: int = 0
    quicklook: Path | None = None


def recon(filename: str | os.PathLike, inputPath: str | os.PathLike = "./", *,
          resume: bool | None = None, progress: bool = False, client: Any = None,
          quicklook: bool = True, provenance_name: str | None = None, **kwargs: Any) -> ReconResult:
    """Reconstruct a raw scan (old ALS or Data Exchange layout) into a TIFF stack.

    Parameters
    ----------
    filename : str or path-like
        Raw HDF5 file, relative to ``inputPath`` or absolute; ".h5" may be left out.
    inputPath : str or path-like
        Folder of the raw file (default "./").
    resume : bool or None
        One output folder holds one run per slice prefix, described by its record (see
        :mod:`alsmicroct.io.outputs`). ``None`` (default) or ``True``: keep the complete
        slices that a record of the same run describes (same input file, size, mtime,
        parameters, rows and centre) and compute the rest; if the folder holds another run
        of this prefix, or slices that no record describes, nothing is written and an
        ``OutputError`` says what differs. ``False``: replace the earlier run of this prefix
        (its slices, record and quick-look are removed first). Strings "yes"/"no"/"auto"
        are accepted.
    progress : bool
        Show a progress bar over chunks (notebook-friendly, tqdm.auto).
    client : dask.distributed.Client, optional
        Spread the row chunks over a Dask cluster (see :mod:`alsmicroct.distributed`).
    quicklook : bool
        Write ``<outputFilename>_quicklook.png`` (central orthogonal slices, histogram).
    provenance_name : str, optional
        File name of the record (default ``recon_parameters.json``, or
        ``recon_parameters_<outputFilename>.json`` for a non-default prefix; the parts of a
        split run use their own).
    **kwargs
        The legacy keywords (``cor``, ``sinoused``, ``doFWringremoval``, ...); see
        :class:`~alsmicroct.params.ReconParams` for names, defaults and units. Unknown
        keywords raise :class:`~alsmicroct.errors.ParameterError` with a hint.

    Returns
    -------
    ReconResult

    Raises
    ------
    AlsMicroCTError
        ``ParameterError``, ``RangeError``, ``InputFileError``, ``LayoutError``,
        ``OutputError`` before any heavy work; ``ReconstructionError`` if a step fails.
    """
    from .io import open_scan
    from .io.outputs import record_name
    from .params import parse_resume
    from .pipeline.claim import claim_output
    from .pipeline.plan import make_plan, resolve_input, scan_options
    from .pipeline.provenance import now, provenance_record, write_provenance
    from .pipeline.runner import Runner

    t_start = time.perf_counter()
    resume = parse_resume(resume)
    params = ReconParams.from_mapping(kwargs, inputPath=_path_arg("inputPath", inputPath))
    path = resolve_input(_path_arg("filename", filename), params.inputPath)
    t0 = time.perf_counter()
    with open_scan(path, **scan_options(params)) as scan:
        plan = make_plan(path, scan, params)
        resolve_center(scan, plan)
    t_centre = time.perf_counter() - t0
    provenance_name = provenance_name or record_name(plan.prefix, path.stem)
    skip = claim_output(plan, record=provenance_name, resume=resume)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    prov_path = plan.output_dir / provenance_name
    started = now()
    write_provenance(prov_path, provenance_record(plan, status="running", started=started))
    logger.info("%s: reconstructing %d rows (%d to keep) of %d x %d, %d projections, cor %.2f -> %s",
                path.name, plan.rows.size, len(skip), plan.meta.nslices, plan.meta.nrays,
                plan.proj_indices.size, plan.cor, plan.output_dir)
    runner = Runner(plan, skip_rows=skip, progress=progress)
    try:
        if client is not None:
            from .distributed import run_on_client

            files = run_on_client(client, runner)
        else:
            files = runner.run()
    except BaseException as exc:
        timings = _timings(runner, t_centre, t_start)
        write_provenance(prov_path, provenance_record(plan, status="failed", timings=timings, started=started,
                                                      error=f"{type(exc).__name__}: {exc}"))
        raise
    look = write_quicklook(plan) if quicklook else None
    timings = _timings(runner, t_centre, t_start)
    write_provenance(prov_path, provenance_record(plan, status="complete", timings=timings, started=started,
                                                  nfiles=len(files)))
    logger.info("%s: %d slices in %s (%.1f s)", path.name, len(files), plan.output_dir, timings["total"])
    return ReconResult(cor=float(plan.cor), output_dir=plan.output_dir, files=files, timings=timings,
                       params=params, provenance_path=prov_path, rows=[int(r) for r in plan.rows],
                       skipped=len(skip), quicklook=look)


def resolve_center(scan, plan) -> None:
    """Fill ``plan.cor``, ``plan.recon_center``, the reconstruction angles, width and padding.

    ``cor`` given: used as is. ``cor`` None: found by ``corFunction`` (or, for
    ``use360to180``, from mirrored 180 deg partners). Used by recon() and by the SLURM
    row-split tasks, which must all agree on the centre.
    """
    from .pipeline.center import find_center, find_center_360
    from .pipeline.plan import default_npad

    p = plan.params
    if p.use360to180:
        from .prep.stitch import angles_360_to_180, stitched_width

        if p.cor is None:
            plan.cor, plan.rotation = find_center_360(scan, plan)
        else:
            plan.cor = p.cor
            plan.rotation = "right" if p.cor > (plan.meta.nrays - 1) / 2 else "left"
        plan.width, plan.recon_center = stitched_width(plan.meta.nrays, plan.cor, rotation=plan.rotation)
        plan.extras["recon_theta"] = angles_360_to_180(plan.theta)
        if p.npad is None:
            plan.npad = default_npad(plan.width)
        return
    plan.cor = p.cor if p.cor is not None else find_center(scan, plan)
    plan.recon_center = plan.cor
    plan.extras["recon_theta"] = plan.theta


def _path_arg(name: str, value: Any) -> str:
    """``value`` as a path string; anything else (None, a number) is an InputFileError naming ``name``."""
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return text
    raise InputFileError(f"{name}={value!r}: expected the path of a raw HDF5 file (text or path-like)"
                         if name == "filename" else f"{name}={value!r}: expected a folder path")


def _timings(runner, t_centre: float, t_start: float) -> dict[str, float]:
    out = {"centre": round(t_centre, 4)}
    out.update({k: round(v, 4) for k, v in runner.timer.times.items()})
    out["total"] = round(time.perf_counter() - t_start, 4)
    return out


def write_quicklook(plan) -> Path | None:
    """Write ``<prefix>_quicklook.png`` next to the slices; a failure is logged, not raised."""
    from .image_processing import quicklook

    target = plan.output_dir / f"{plan.prefix}_quicklook.png"
    try:
        return Path(quicklook(plan.output_dir, target, title=f"{plan.prefix}  cor={plan.cor:.2f}",
                              prefix=plan.prefix))
    except Exception as exc:  # a picture must never fail a finished reconstruction
        logger.warning("%s: quick-look picture not written: %s", target, exc)
        return None


def find_centers(filename: str | os.PathLike, inputPath: str | os.PathLike = "./", *,
                 methods: tuple[str, ...] = ("pc", "vo", "nm"), **kwargs: Any) -> dict[str, float]:
    """Centre of rotation by each of ``methods`` (pixels from the left edge).

    A method that fails is logged and reported as NaN; the others still run.
    """
    from .io import open_scan
    from .pipeline.center import find_center
    from .pipeline.plan import make_plan, resolve_input, scan_options

    params = ReconParams.from_mapping(kwargs, inputPath=os.fspath(inputPath))
    path = resolve_input(filename, params.inputPath)
    out: dict[str, float] = {}
    with open_scan(path, **scan_options(params)) as scan:
        plan = make_plan(path, scan, params)
        for method in methods:
            try:
                out[method] = find_center(scan, plan, method)
            except Exception as exc:
                logger.warning("%s: centre method %s failed: %s", path.name, method, exc)
                out[method] = float("nan")
    return out


def try_centers(filename: str | os.PathLike, centers, inputPath: str | os.PathLike = "./", *,
                row: int | None = None, outputPath: str | os.PathLike | None = None,
                **kwargs: Any) -> tuple[list[Path], Path]:
    """Reconstruct one row over several centres, for picking the centre by eye.

    Writes ``<output>/rec<stem>/try_centers_row<row>/<prefix>_cor<centre>.tiff`` for each
    centre (1/cm) and a montage PNG of all of them, each labelled with its centre.

    Returns
    -------
    files : list of Path
        One TIFF per centre, in the order given.
    montage : Path
        The montage picture.
    """
    from .pipeline.sweep import center_sweep_files

    if outputPath is not None:
        kwargs["outputPath"] = os.fspath(outputPath)
    params = ReconParams.from_mapping(kwargs, inputPath=os.fspath(inputPath))
    return center_sweep_files(filename, params, [float(c) for c in centers], row=row)


def _signature() -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("filename", pos), inspect.Parameter("inputPath", pos, default="./")]
    for name in ReconParams.field_names():
        if name != "inputPath":
            params.append(inspect.Parameter(name, kw, default=ReconParams.__dataclass_fields__[name].default))
    for name, default in (("resume", None), ("progress", False), ("client", None), ("quicklook", True),
                          ("provenance_name", None)):
        params.append(inspect.Parameter(name, kw, default=default))
    return inspect.Signature(params, return_annotation=ReconResult)


recon.__signature__ = _signature()  # help(recon) lists every legacy keyword and default
recon.__doc__ = f"{recon.__doc__}\n    Keywords by step\n    ----------------\n" + "\n".join(
    f"    {line}" if line else "" for line in _parameter_help().splitlines())
