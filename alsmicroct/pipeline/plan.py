"""Resolve recon() parameters against a raw scan: rows, projections, angles, padding, paths.

Everything that can be checked before heavy work is checked here, so a bad call fails in
milliseconds with a message naming the value and what was expected.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.gridrec import default_npad
from ..errors import InputFileError, LayoutError, OutputError, ParameterError, RangeError
from ..params import ReconParams

__all__ = ["ReconPlan", "centred_plan", "default_npad", "make_plan", "output_dir_for", "resolve_input", "scan_options"]

logger = logging.getLogger(__name__)

DEFAULT_BH = (0.0, 1.0, 0.0, 0.0, 0.0, 0.1)


def resolve_input(filename: str | os.PathLike, input_path: str | os.PathLike = "./") -> Path:
    """Path of the raw file: ``inputPath/filename`` (".h5" added when missing).

    Raises
    ------
    InputFileError
        When neither the name as given nor with ".h5" exists.
    """
    name = Path(os.fspath(filename)).expanduser()
    base = name if name.is_absolute() else Path(os.fspath(input_path)).expanduser() / name
    candidates = (
        [base] if base.suffix.lower() in (".h5", ".hdf5", ".hdf") else [base, base.with_name(base.name + ".h5")]
    )
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    if base.is_dir():
        raise InputFileError(f"{base} is a folder; expected a raw HDF5 file (e.g. {base / '<scan>.h5'})")
    tried = " or ".join(str(c) for c in candidates)
    raise InputFileError(f"raw file not found: {tried}")


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def output_dir_for(
    filename: str | os.PathLike, inputPath: str | os.PathLike = "./", outputPath: str | os.PathLike | None = None
) -> Path:
    """Folder that recon() writes slices to: ``<outputPath or inputPath>/rec<stem>/``."""
    name = Path(os.fspath(filename))
    stem = _stem(name) if name.suffix.lower() in (".h5", ".hdf5", ".hdf") else name.name
    root = Path(os.fspath(outputPath if outputPath is not None else inputPath)).expanduser()
    if not name.is_absolute() and outputPath is None:
        root = (root / name).parent
    elif name.is_absolute() and outputPath is None:
        root = name.parent
    return root / f"rec{stem}"


@dataclass(frozen=True)
class ReconPlan:
    """Everything recon() needs, resolved; frozen (a changed plan is a new plan, made with
    :func:`dataclasses.replace`). Picklable (sent to Dask workers).

    :func:`make_plan` checks the parameters against the scan; with ``cor`` given the plan is
    complete, otherwise :func:`alsmicroct.pipeline.prepare.with_center` returns the plan with
    the centre found. :func:`alsmicroct.pipeline.prepare.prepare` does both.
    """

    path: Path
    params: ReconParams
    meta: Any
    proj_indices: np.ndarray  # absolute projection indices used
    theta: np.ndarray  # radians, one per used projection
    rows: np.ndarray  # absolute detector rows to reconstruct
    npad: int
    width: int  # columns reconstructed (after 360->180: stitched width)
    output_dir: Path
    prefix: str
    pxsize_cm: float
    ignore_mask: np.ndarray  # bool per used projection: zeroed
    bh_coefficients: tuple[float, ...]
    dist_cm: float | None
    energy_kev: float | None
    cor: float | None = None  # raw-detector centre (pixels from the left edge)
    recon_center: float | None = None  # centre in the reconstructed (possibly stitched) row
    rotation: str = "right"  # 360->180 axis side
    recon_theta: np.ndarray | None = None  # angles given to the reconstruction (after 360->180)
    center_info: dict | None = None  # confidence of an automatic centre (pipeline.center.center_confidence)
    center_slope: float = 0.0  # drifting axis: px per detector row, about center_row (0: one centre)
    center_row: float = 0.0  # detector row at which the centre is recon_center
    tilt_info: dict | None = None  # detector tilt estimated / applied (pipeline.auto_tilt.with_tilt)
    block_cap: int | None = None  # rows per block the free memory allows (pipeline.execute.fit_plan_memory)

    def centers_for(self, rows: np.ndarray) -> float | np.ndarray:
        """The reconstruction centre of each of ``rows`` (one float when the axis does not drift)."""
        if not self.center_slope:
            return self.recon_center
        return self.recon_center + self.center_slope * (np.asarray(rows, np.float64) - self.center_row)

    @property
    def centred(self) -> bool:
        """Whether the centre is resolved (the plan can run)."""
        return self.cor is not None and self.recon_center is not None

    def slice_path(self, row: int) -> Path:
        """Final TIFF path of absolute row ``row``."""
        return self.output_dir / f"{self.prefix}_{row:05d}.tiff"

    @property
    def volume_path(self) -> Path:
        """Where the volume goes: the output folder (TIFF slices), ``<prefix>.ome.zarr`` or ``<prefix>.h5``."""
        from ..io.volumes import volume_path

        return volume_path(self.output_dir, self.prefix, self.params.outputFormat)

    @property
    def out_dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.params.castTo8bit else np.float32)


def _resolve_range(name: str, value: tuple[int, ...] | None, size: int, path: Path) -> np.ndarray:
    if value is None:
        return np.arange(size)
    start, end, step = value
    if start == -1:
        count = end
        if count > size:
            raise RangeError(
                f"{path}: {name}=(-1, {count}, {step}) asks for {count} central entries, the data has {size}"
            )
        start = size // 2 - count // 2
        end = start + count
    if end > size:
        raise RangeError(
            f"{path}: {name}={tuple(value)} ends at {end}, beyond the {size} available (expected end <= {size})"
        )
    return np.arange(start, end, step)


def _angles(scan: Any, params: ReconParams, proj: np.ndarray, path: Path) -> np.ndarray:
    meta = scan.meta
    prange = (int(proj[0]), int(proj[-1]) + 1, int(proj[1] - proj[0]) if proj.size > 1 else 1)
    if params.anglelist is None:
        return np.asarray(scan.angles(proj=prange, angle_offset=params.angle_offset), dtype=np.float64)
    if params.anglelist == -1:
        if meta.rot_angles is None:
            raise ParameterError(f"{path}: anglelist=-1 asks for per-projection rot_angle, but the file has none")
        return np.asarray(
            scan.angles(proj=prange, angle_offset=params.angle_offset, use_rot_angle=True), dtype=np.float64
        )
    angles = np.asarray(params.anglelist, dtype=np.float64)
    if params.angle_offset:
        logger.warning("%s: angle_offset=%g is not applied to an explicit anglelist", path.name, params.angle_offset)
    if angles.size == meta.nangles:
        return angles[proj]
    if angles.size == proj.size:
        return angles
    used = "" if proj.size == meta.nangles else f" or {proj.size} (one per projection used)"
    raise ParameterError(
        f"{path}: anglelist has {angles.size} angles; expected {meta.nangles} (one per projection in the file){used}"
    )


def _check_rotation(theta: np.ndarray, params: ReconParams, meta: Any, path: Path) -> None:
    """Refuse angles that do not rotate: every projection used at one angle (a theta of
    zeros, an ``arange`` of 0) gives no tomogram, only garbage."""
    if theta.size < 2 or float(np.ptp(theta)) > 1e-9:
        return
    if params.anglelist is not None and params.anglelist != -1:
        source, error = "anglelist", ParameterError
    elif params.anglelist == -1:
        source, error = "the file's per-projection rot_angle (anglelist=-1)", LayoutError
    elif meta.layout == "dxchange":
        source, error = "/exchange/theta", LayoutError
    else:
        source, error = f"the file's arange={meta.arange:g} deg", LayoutError
    raise error(
        f"{path}: every projection used is at the same angle ({np.rad2deg(theta[0]):.6g} deg, from {source}); "
        "expected angles spread over 180 deg (or 360). Give the real angles with anglelist (radians, one per "
        "projection) if the file's are wrong"
    )


def scan_options(params: ReconParams) -> dict[str, Any]:
    """Keywords of :func:`alsmicroct.io.open_scan` that ``params`` decide (one place for every
    reader of a run: bad-data policy, pixel-size override, projections left unchecked)."""
    return {
        "bad_data": params.badData,
        "pixel_size": params.pixel_size,
        "skip_projections": tuple(params.projIgnoreList or ()),
    }


def make_plan(path: Path, scan: Any, params: ReconParams) -> ReconPlan:
    """Check ``params`` against the scan ``scan`` (an open :class:`alsmicroct.io.RawScan`)."""
    meta = scan.meta
    proj = _resolve_range("projused", params.projused, meta.nangles, path)
    rows = _resolve_range("sinoused", params.sinoused, meta.nslices, path)
    if proj.size < 2:
        raise RangeError(
            f"{path}: projused={params.projused} selects {proj.size} projection(s); a reconstruction needs at least 2"
        )
    theta = _angles(scan, params, proj, path)
    _check_rotation(theta, params, meta, path)
    if params.cor is not None and not (0.0 <= params.cor <= meta.nrays - 1):
        raise ParameterError(
            f"{path}: cor={params.cor} lies outside the detector row "
            f"(expected 0 <= cor <= {meta.nrays - 1} pixels from the left edge)"
        )
    ignore = np.zeros(proj.size, dtype=bool)
    for idx in params.projIgnoreList or ():
        if idx >= meta.nangles:
            raise RangeError(f"{path}: projIgnoreList holds {idx}; the scan has {meta.nangles} projections")
        ignore |= proj == idx
    if ignore.size and ignore.all():
        raise ParameterError(
            f"{path}: projIgnoreList ignores all {proj.size} projections used (projused={params.projused}); "
            "expected at least one projection left to reconstruct from"
        )
    for row, name in ((params.voInd, "voInd"), (params.nmInd, "nmInd"), (params.tiltcenter_slice, "tiltcenter_slice")):
        if row is not None and not (0 <= row < meta.nslices):
            raise RangeError(f"{path}: {name}={row} is outside the rows 0..{meta.nslices - 1}")
    if params.nmInit is not None and not (0.0 <= params.nmInit <= meta.nrays - 1):
        raise ParameterError(
            f"{path}: nmInit={params.nmInit} lies outside the detector row (expected 0 <= nmInit <= {meta.nrays - 1})"
        )
    uses_ti = params.doTIringremoval or (params.doFWringremoval and params.ringMethod == "ti")
    if uses_ti and params.ringNBlock > proj.size:
        raise ParameterError(
            f"{path}: ringNBlock={params.ringNBlock} blocks of angles, but only {proj.size} projections are used; "
            f"expected 0..{proj.size}"
        )
    if params.tiltcenter_det is not None and not (0 <= params.tiltcenter_det < meta.nrays):
        raise RangeError(f"{path}: tiltcenter_det={params.tiltcenter_det} is outside 0..{meta.nrays - 1}")
    if params.use360to180 and abs(meta.arange) < 300:
        raise ParameterError(f"{path}: use360to180=True needs a 360 deg scan; the file's range is {meta.arange} deg")
    dist_cm = params.propagation_dist
    energy = params.kev
    if params.doPhaseRetrieval:
        if dist_cm is None:
            if meta.camera_distance_mm is None:
                raise ParameterError(
                    f"{path}: propagation_dist=None asks for the camera distance, "
                    "but the file has none; give propagation_dist in cm"
                )
            dist_cm = meta.camera_distance_mm / 10.0
        if energy is None:
            if meta.energy_kev is None:
                raise ParameterError(f"{path}: kev=None asks for the energy, but the file has none; give kev")
            energy = meta.energy_kev
    out_root = Path(params.outputPath) if params.outputPath is not None else path.parent
    stem = _stem(path)
    output_dir = Path(os.fspath(out_root)).expanduser() / f"rec{stem}"
    _check_writable(output_dir)
    width = meta.nrays
    plan = ReconPlan(
        path=path,
        params=params,
        meta=meta,
        proj_indices=proj,
        theta=theta,
        rows=rows,
        npad=params.npad if params.npad is not None else default_npad(width),
        width=width,
        output_dir=output_dir,
        prefix=params.outputFilename or stem,
        pxsize_cm=float(meta.pxsize_cm),
        ignore_mask=ignore,
        bh_coefficients=params.BeamHardeningCoefficients or DEFAULT_BH,
        dist_cm=dist_cm,
        energy_kev=energy,
    )
    return plan if params.cor is None else centred_plan(plan, params.cor)


def centred_plan(plan: ReconPlan, cor: float, rotation: str | None = None) -> ReconPlan:
    """``plan`` with the centre ``cor`` (raw-detector pixels) and everything it decides: for
    ``use360to180`` the axis side (``rotation``, default from ``cor``), the stitched width,
    its centre, the 180 deg angles and the padding; otherwise the centre as is.

    Raises
    ------
    ParameterError
        When ``cor`` does not fit the scan (also for a 360 deg scan: the same check for a
        dry run and a real run).
    """
    import dataclasses

    p, meta = plan.params, plan.meta
    if not p.use360to180:
        return dataclasses.replace(plan, cor=float(cor), recon_center=float(cor), recon_theta=plan.theta)
    from ..prep.stitch import angles_360_to_180, stitched_width

    rotation = rotation or ("right" if cor > (meta.nrays - 1) / 2 else "left")
    try:
        width, center = stitched_width(meta.nrays, cor, rotation=rotation)
    except ParameterError as exc:
        raise ParameterError(f"{plan.path}: cor={cor} does not fit this 360 deg scan: {exc}") from None
    npad = p.npad if p.npad is not None else default_npad(width)
    return dataclasses.replace(
        plan,
        cor=float(cor),
        rotation=rotation,
        width=width,
        recon_center=center,
        recon_theta=angles_360_to_180(plan.theta),
        npad=npad,
    )


def _check_writable(output_dir: Path) -> None:
    probe = output_dir
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"output location {output_dir}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"output location {output_dir}: {probe} is not writable")
