"""Pictures written next to the slices: the run's quick-look and the centre-sweep montage.
A picture never fails a finished reconstruction: a failure is logged."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_file
from .plan import ReconPlan

__all__ = ["write_montage", "write_quicklook"]

logger = logging.getLogger(__name__)


def write_quicklook(plan: ReconPlan, *, quality: dict | None = None, gather=None) -> Path | None:
    """Write ``<prefix>_quicklook.png`` next to the slices (three orthogonal views, also of a
    zarr or h5 volume; with ``quality``, its figures under the title, and from ``gather``
    (:class:`~alsmicroct.pipeline.quality_report.QualityGather`) the ring profile, and from
    the centre record the centre metric curve and the centre per row); a failure is logged,
    not raised."""
    from ..image_processing import quicklook
    from .quality_report import quality_notes

    target = plan.output_dir / f"{plan.prefix}_quicklook.png"
    curves = []
    profile = gather.ring_profile() if gather is not None else None
    if profile is not None:
        curves.append(("stripe residual left (ring cause) per column", profile))
    curve = (plan.center_info or {}).get("metric_curve") or {}
    trial, metric = curve.get("centers") or [], curve.get("metric") or []
    if len(trial) > 2 and len(metric) == len(trial):
        best = trial[int(np.argmin(metric))]
        curves.append(
            (f"centre metric (Vo, lower is better) over {trial[0]:.1f}-{trial[-1]:.1f} px, min at {best:.1f}", metric)
        )
    centres = (plan.center_info or {}).get("row_centers")
    if centres is not None and len(centres) > 1:
        how = "360 deg match" if (plan.center_info or {}).get("method") == "360" else "Vo"
        curves.append((f"centre per row ({how}), rows {(plan.center_info or {}).get('rows')}", np.asarray(centres)))
    try:
        return Path(
            quicklook(
                plan.volume_path,
                target,
                title=f"{plan.prefix}  cor={plan.cor:.2f}",
                prefix=plan.prefix,
                notes=quality_notes(quality),
                curves=tuple(curves),
            )
        )
    except Exception as exc:  # a picture must never fail a finished reconstruction
        logger.warning("%s: quick-look picture not written: %s", target, exc)
        return None


def write_montage(images: np.ndarray, centers: list[float], target: Path, *, title: str = "") -> Path:
    """A grid of ``images`` labelled with their centres, one common grey scale, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = min(n, 5)
    nrows = math.ceil(n / ncols)
    lo, hi = np.percentile(np.asarray(images), [1, 99])
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 3 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, c in zip(axes.ravel(), images, centers, strict=False):
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi)
        ax.set_title(f"cor = {c:.2f}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_file(target, "wb", what="centre-sweep montage") as fh:
            fig.savefig(fh, format="png", dpi=80)
    finally:
        plt.close(fig)
    return target
