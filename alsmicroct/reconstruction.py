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
from .names import CENTER_METHODS
from .params import ReconParams
from .params import parameter_help as _parameter_help
from .pipeline.plan import output_dir_for
from .pipeline.provenance import provenance_status

__all__ = ["ReconResult", "find_centers", "output_dir_for", "provenance_status", "recon", "try_centers"]

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
    quicklook : Path or None
        The quick-look picture.
    center_info : dict or None
        For an automatic centre, how sure it is: ``uncertainty_px``, ``label``
        ("high" | "low"), ``reasons``, the second estimates and the drift fit
        (:func:`alsmicroct.pipeline.center.center_confidence`); None for a given ``cor``.
    tilt_info : dict or None
        The detector tilt: estimated from the 0/180 pair (``autoTilt``), given, or applied
        (:func:`alsmicroct.pipeline.auto_tilt.with_tilt`).
    quality : dict or None
        The quality report gathered on a few sample rows while the scan ran (the
        ``"quality"`` section of the record, :mod:`alsmicroct.pipeline.quality_report`):
        residual ring index (sinogram stripe residual, line-integral units) and
        ``ring_index_slice`` (1/cm), sharpness, raw saturated/zero fractions, flat drift, outliers
        removed, tilt, centre confidence, ``suggestions`` (never applied) and ``warnings``.
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
    center_info: dict | None = None
    quality: dict | None = None
    tilt_info: dict | None = None


def recon(
    filename: str | os.PathLike,
    inputPath: str | os.PathLike = "./",
    *,
    resume: bool | None = None,
    progress: bool = False,
    client: Any = None,
    quicklook: bool = True,
    provenance_name: str | None = None,
    **kwargs: Any,
) -> ReconResult:
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
        Spread the row chunks over a Dask cluster (see :mod:`alsmicroct.jobs.clusters`).
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

    Examples
    --------
    A small simulated scan, reconstructed at its known centre (run as a doctest by
    ``tests/test_doctests.py``, in a temporary folder):

    >>> from alsmicroct.sim import simulate_scan
    >>> s = simulate_scan("scan.h5", nangles=91, nslices=2, nrays=64, seed=0)
    >>> res = recon("scan.h5", cor=s.cor, num_threads=1)
    >>> [f.name for f in res.files], res.cor == s.cor
    (['scan_00000.tiff', 'scan_00001.tiff'], True)
    """
    from .params import parse_resume
    from .pipeline.execute import execute
    from .pipeline.prepare import prepared

    t_start = time.perf_counter()
    resume = parse_resume(resume)
    params = ReconParams.from_mapping(kwargs, inputPath=_path_arg("inputPath", inputPath))
    # the file opened once; a local run reads the rows the centre needs with its first block
    with prepared(_path_arg("filename", filename), params, share=client is None) as (scan, plan):
        run = execute(
            plan,
            record=provenance_name,
            resume=resume,
            progress=progress,
            client=client,
            quicklook=quicklook,
            t_centre=time.perf_counter() - t_start,
            t_start=t_start,
            scan=scan,
        )
    return ReconResult(
        cor=float(plan.cor),
        output_dir=plan.output_dir,
        files=run.files,
        timings=run.timings,
        params=params,
        provenance_path=run.record,
        rows=[int(r) for r in plan.rows],
        skipped=run.skipped,
        quicklook=run.quicklook,
        center_info=plan.center_info,
        tilt_info=plan.tilt_info,
        quality=run.quality,
    )


def _path_arg(name: str, value: Any) -> str:
    """``value`` as a path string; anything else (None, a number) is an InputFileError naming ``name``."""
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return text
    raise InputFileError(
        f"{name}={value!r}: expected the path of a raw HDF5 file (text or path-like)"
        if name == "filename"
        else f"{name}={value!r}: expected a folder path"
    )


def find_centers(
    filename: str | os.PathLike,
    inputPath: str | os.PathLike = "./",
    *,
    methods: tuple[str, ...] = CENTER_METHODS,
    **kwargs: Any,
) -> dict[str, float]:
    """Centre of rotation by each of ``methods`` (pixels from the left edge).

    A method that fails is logged and reported as NaN; the others still run.
    """
    from .pipeline.center import find_center
    from .pipeline.prepare import open_planned

    params = ReconParams.from_mapping(kwargs, inputPath=_path_arg("inputPath", inputPath))
    out: dict[str, float] = {}
    with open_planned(_path_arg("filename", filename), params) as (scan, plan):
        path = plan.path
        for method in methods:
            try:
                out[method] = find_center(scan, plan, method)
            except Exception as exc:
                logger.warning("%s: centre method %s failed: %s", path.name, method, exc)
                out[method] = float("nan")
    return out


def try_centers(
    filename: str | os.PathLike,
    centers,
    inputPath: str | os.PathLike = "./",
    *,
    row: int | None = None,
    outputPath: str | os.PathLike | None = None,
    **kwargs: Any,
) -> tuple[list[Path], Path]:
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
    for name, default in (
        ("resume", None),
        ("progress", False),
        ("client", None),
        ("quicklook", True),
        ("provenance_name", None),
    ):
        params.append(inspect.Parameter(name, kw, default=default))
    return inspect.Signature(params, return_annotation=ReconResult)


recon.__signature__ = _signature()  # help(recon) lists every legacy keyword and default
recon.__doc__ = f"{recon.__doc__}\n    Keywords by step\n    ----------------\n" + "\n".join(
    f"    {line}" if line else "" for line in _parameter_help().splitlines()
)
