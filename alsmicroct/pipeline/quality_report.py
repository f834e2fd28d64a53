"""The quality report of a run, gathered while the rows stream (no second pass).

:class:`QualityGather` is fed by the :class:`~alsmicroct.pipeline.runner.Runner` with the
raw images of a few sample rows spread over the volume (saturated / zero-count pixels,
flat drift between flat groups, pixels changed by the outlier steps), their sinograms
after the ring-removal steps (the residual ring index: the stripe residual of the column
means, line-integral units; the largest line integral) and their slices (ring index in
1/cm, sharpness, 8-bit range). :meth:`QualityGather.report` returns the ``"quality"`` section of
``recon_parameters.json`` and of :attr:`alsmicroct.reconstruction.ReconResult.quality`.

Figures that the data cannot support (too few angles, a blank sample, saturated raw
pixels) come with a warning (logged and listed under ``"warnings"``) and a fallback;
the suggestions (an 8-bit range) are never applied.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from .plan import ReconPlan

__all__ = [
    "BLANK_ATTENUATION",
    "MIN_ANGLES_PER_WIDTH",
    "SATURATED_WARN",
    "QualityGather",
    "centre_summary",
    "merge_quality",
    "quality_notes",
    "quality_of",
    "sample_rows",
]

logger = logging.getLogger(__name__)

#: Largest line integral (a column's mean over the angles, sample rows) below which the
#: sample is taken as blank (about 2 % absorption): sharpness and the 8-bit range then fall back.
BLANK_ATTENUATION = 0.02
#: Fraction of saturated raw projection pixels above which a warning is given.
SATURATED_WARN = 1e-4
#: Fewer projections than this times the slice width (pi/2 is the sampling rule) make
#: the ring index and sharpness unreliable (angular undersampling streaks).
MIN_ANGLES_PER_WIDTH = 0.25
_SATURATION = 65535


def sample_rows(plan: ReconPlan, n: int = 3) -> set[int]:
    """``n`` planned rows spread over the volume (first, middle, last for ``n=3``)."""
    rows = plan.rows
    idx = np.unique(np.linspace(0, rows.size - 1, min(n, rows.size)).round().astype(int))
    return {int(rows[i]) for i in idx}


class QualityGather:
    """Quality figures of one run, gathered from the blocks the runner already holds.

    Parameters
    ----------
    plan : ReconPlan
        The run's plan.
    nrows : int
        Sample rows spread over the volume.
    """

    def __init__(self, plan: ReconPlan, *, nrows: int = 3) -> None:
        self.plan = plan
        self.rows = sample_rows(plan, nrows)
        self._lock = threading.Lock()
        self._raw: dict[int, tuple[int, int, int]] = {}  # row -> (saturated, zero, pixels)
        self._changed: dict[tuple[str, int], int] = {}  # (step, row) -> pixels changed
        self._stripes: dict[int, np.ndarray] = {}  # row -> stripe residual
        self._atten: dict[int, float] = {}  # row -> largest mean line integral
        self._slices: dict[int, np.ndarray] = {}  # row -> float32 slice
        self._drift: float | None = None

    def _present(self, rows: np.ndarray) -> list[tuple[int, int]]:
        return [(k, int(r)) for k, r in enumerate(rows) if int(r) in self.rows]

    def raw(self, block: Any) -> None:
        """Raw counts of ``block`` (before any step): pixel fractions and flat drift."""
        found = self._present(block.rows)
        with self._lock:
            for k, r in found:
                a = block.data[:, k]
                self._raw[r] = (int(np.count_nonzero(a >= _SATURATION)), int(np.count_nonzero(a <= 0)), a.size)
            if (
                self._drift is None
                and block.flats is not None
                and block.flat_indices is not None
                and len(block.flat_indices) == len(block.flats)
            ):
                from ..post.quality import flat_drift

                self._drift = flat_drift(block.flats, block.flat_indices, block.darks)

    def snapshot(self, block: Any) -> dict[int, np.ndarray]:
        """Copies of the sample rows of ``block`` (before a step that may change pixels)."""
        return {r: block.data[:, k].copy() for k, r in self._present(block.rows)}

    def changed(self, name: str, before: dict[int, np.ndarray], block: Any) -> None:
        """Count the pixels step ``name`` changed in the sample rows (zingers removed)."""
        where = dict((r, k) for k, r in self._present(block.rows))
        with self._lock:
            for r, old in before.items():
                if r in where:
                    self._changed[(name, r)] = int(np.count_nonzero(block.data[:, where[r]] != old))

    def sinogram(self, block: Any) -> None:
        """Line integrals of the sample rows after the sinogram steps: the largest mean over
        the angles of a column (noise averaged out) and the stripe residual left."""
        from ..post.quality import column_means, stripe_residual

        with self._lock:
            for k, r in self._present(block.rows):
                s = block.data[:, k]
                mean = column_means(s)
                self._atten[r] = float(np.nanmax(mean)) if np.isfinite(mean).any() else 0.0
                if s.shape[1] >= 5:
                    self._stripes[r] = stripe_residual(s, means=mean)

    def slices(self, rec: np.ndarray, rows: np.ndarray) -> None:
        """Reconstructed slices (1/cm, before any 8-bit cast) of the sample rows."""
        with self._lock:
            for k, r in self._present(rows):
                self._slices[r] = np.array(rec[k], dtype=np.float32)

    def state(self) -> dict[str, Any]:
        """What was gathered, to send back from a Dask worker (see :meth:`merge`)."""
        with self._lock:
            return {
                "raw": dict(self._raw),
                "changed": dict(self._changed),
                "atten": dict(self._atten),
                "stripes": dict(self._stripes),
                "slices": dict(self._slices),
                "drift": self._drift,
            }

    def merge(self, state: dict[str, Any]) -> None:
        """Add what another gatherer of the same plan saw (a Dask worker's :meth:`state`)."""
        with self._lock:
            for key in ("raw", "changed", "atten", "stripes", "slices"):
                getattr(self, f"_{key}").update(state[key])
            if self._drift is None:
                self._drift = state["drift"]

    def ring_profile(self) -> np.ndarray | None:
        """The stripe residual per detector column, RMS over the sample rows (the cause of
        rings, by radius = distance from the axis; for the picture)."""
        if not self._stripes:
            return None
        return np.sqrt(np.mean(np.stack([self._stripes[r] for r in sorted(self._stripes)]) ** 2, axis=0))

    def middle_slice(self) -> np.ndarray | None:
        """The sample slice nearest the middle of the volume."""
        if not self._slices:
            return None
        rows = sorted(self._slices)
        return self._slices[rows[len(rows) // 2]]

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        """The ``"quality"`` section: figures, their rows, suggestions and warnings."""
        from ..post.quality import range_8bit, ring_index, sharpness

        plan = self.plan
        warnings: list[str] = []
        out: dict[str, Any] = {"sample_rows": sorted(self.rows)}
        info = plan.center_info or {}
        out["centre_confidence"] = centre_summary(info)
        out["tilt_deg"] = {
            "corrected": float(plan.params.correcttilt),
            "estimated": (plan.tilt_info or {}).get("estimated_deg"),
            "axis_slope_px_per_row": info.get("slope_px_per_row"),
        }
        npix = sum(v[2] for v in self._raw.values())
        if npix:
            sat = sum(v[0] for v in self._raw.values()) / npix
            out["raw_saturated_fraction"] = sat
            out["raw_zero_fraction"] = sum(v[1] for v in self._raw.values()) / npix
            if sat > SATURATED_WARN:
                warnings.append(
                    f"{sat:.2%} of the raw projection pixels of the sample rows are saturated "
                    f"({_SATURATION} counts): attenuation is underestimated there"
                )
        else:
            out["raw_saturated_fraction"] = out["raw_zero_fraction"] = None
            warnings.append(
                "raw pixel fractions not gathered (the sample rows were read from a "
                "pre-processed store or kept from an earlier run)"
            )
        out["flat_drift"] = self._drift
        zingers = {}
        for (name, _r), n in self._changed.items():
            zingers[name] = zingers.get(name, 0) + n
        out["outliers_removed"] = (
            {"per_step": zingers, "pixels": sum(zingers.values()), "of_pixels": npix} if zingers else None
        )
        profile = self.ring_profile()
        out["ring_index"] = None if profile is None else float(np.sqrt(np.mean(profile**2)))
        blank = bool(self._atten) and max(self._atten.values()) < BLANK_ATTENUATION
        out["max_line_integral"] = max(self._atten.values()) if self._atten else None
        nang, width = int(plan.proj_indices.size), int(plan.width)
        few = nang < MIN_ANGLES_PER_WIDTH * width
        if few:
            warnings.append(
                f"{nang} projections for slices {width} px wide (fewer than "
                f"{MIN_ANGLES_PER_WIDTH} x width): ring index and sharpness include "
                "undersampling streaks"
            )
        if blank:
            warnings.append(
                f"blank sample: largest line integral {out['max_line_integral']:.4f} < "
                f"{BLANK_ATTENUATION} in the sample rows; sharpness not computed and the "
                "8-bit range falls back to the full value range"
            )
        suggestions: dict[str, Any] = {
            "applied": False,
            "paganin_alpha": None,
            "paganin_alpha_why": "not estimated: it needs the sample's delta/beta, which raw data do not hold",
        }
        if self._slices:
            stack = np.stack([self._slices[r] for r in sorted(self._slices)])
            out["ring_index_slice"] = ring_index(stack, highpass=9)
            out["sharpness"] = None if blank else sharpness(stack)
            if blank:
                finite = stack[np.isfinite(stack)]
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                suggestions["range_8bit"] = {
                    "cast8bit_min": lo,
                    "cast8bit_max": hi,
                    "how": "full value range (fallback: blank sample)",
                }
            else:
                lo, hi = range_8bit(stack)
                suggestions["range_8bit"] = {
                    "cast8bit_min": lo,
                    "cast8bit_max": hi,
                    "how": "0.1 and 99.9 percentiles of the sample slices",
                }
        else:
            out["ring_index_slice"] = out["sharpness"] = None
            warnings.append("no sample slice gathered: ring index, sharpness and 8-bit range not computed")
        out["suggestions"] = suggestions
        out["warnings"] = warnings
        for w in warnings:
            logger.warning("%s: quality: %s", plan.path.name, w)
        return out


def quality_of(runner: Any, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The quality section of a finished run: the report of ``runner``'s gathered figures
    (Dask workers' figures are merged into it). When every sample row was kept from an
    earlier run (resume), that run's section (``previous``, its record) is kept, marked
    ``"kept_from_earlier_run"``."""
    earlier = (previous or {}).get("quality")
    if earlier and runner.quality.rows <= runner.skip_rows:
        return {**earlier, "kept_from_earlier_run": True}
    return {"gathered": True, **runner.quality.report()}


def centre_summary(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """The quality section's view of a centre record (``plan.center_info``)."""
    if not info:
        return None
    return {k: info.get(k) for k in ("label", "uncertainty_px", "method", "drift_px", "reasons") if k in info}


def _rms(values: list[tuple[float, int]]) -> float | None:
    """RMS of figures that are each an RMS over ``n`` equal-sized rows: exact pooling."""
    pairs = [(v, n) for v, n in values if v is not None and n > 0]
    total = sum(n for _v, n in pairs)
    return None if not total else float(np.sqrt(sum(v * v * n for v, n in pairs) / total))


def merge_quality(sections: list[dict[str, Any] | None], *, plan: ReconPlan) -> dict[str, Any] | None:
    """One ``"quality"`` section for a run made of row parts (SLURM ``recon_part``), from
    the parts' own sections (each gathered on its own first, middle and last rows).

    Pooled exactly (every sample row of a scan has the same pixel count): the raw pixel
    fractions (mean over the sample rows), ``ring_index`` and ``ring_index_slice`` (RMS over
    the sample rows), the outlier counts (sums), the largest line integral and flat drift
    (maxima). Approximate, and said so under ``"merged"``: ``sharpness`` (the mean of the
    parts' figures, each relative to its own slices' variance) and the 8-bit range (the
    widest of the parts' suggestions: quantiles do not pool). The centre and tilt records
    are the whole scan's, from ``plan`` (the parts are run with the centre resolved on the
    whole scan, given to them as ``cor``). Warnings are those of the parts, once each. None
    when a part has no section.
    """
    if not sections or any(not q for q in sections):
        return None
    secs = [q for q in sections if q]
    n = [len(q.get("sample_rows") or ()) for q in secs]

    def values(key: str) -> list[tuple[Any, int]]:
        return [(q.get(key), k) for q, k in zip(secs, n, strict=True)]

    def mean(key: str) -> float | None:
        pairs = [(v, k) for v, k in values(key) if v is not None]
        total = sum(k for _v, k in pairs)
        return None if not total else float(sum(v * k for v, k in pairs) / total)

    def largest(key: str) -> Any:
        got = [v for v, _k in values(key) if v is not None]
        return max(got) if got else None

    first = secs[0]
    out: dict[str, Any] = {
        "gathered": all(q.get("gathered", True) for q in secs),
        "sample_rows": sorted({int(r) for q in secs for r in q.get("sample_rows") or ()}),
        "centre_confidence": centre_summary(plan.center_info),
        "tilt_deg": {
            **(first.get("tilt_deg") or {}),
            "estimated": (plan.tilt_info or {}).get("estimated_deg"),
            "axis_slope_px_per_row": (plan.center_info or {}).get("slope_px_per_row"),
        },
        "raw_saturated_fraction": mean("raw_saturated_fraction"),
        "raw_zero_fraction": mean("raw_zero_fraction"),
        "flat_drift": largest("flat_drift"),
        "ring_index": _rms(values("ring_index")),
        "max_line_integral": largest("max_line_integral"),
        "ring_index_slice": _rms(values("ring_index_slice")),
        "sharpness": mean("sharpness"),
    }
    removed = [q.get("outliers_removed") for q in secs if q.get("outliers_removed")]
    if removed:
        per_step: dict[str, int] = {}
        for r in removed:
            for name, count in (r.get("per_step") or {}).items():
                per_step[name] = per_step.get(name, 0) + int(count)
        out["outliers_removed"] = {
            "per_step": per_step,
            "pixels": sum(per_step.values()),
            "of_pixels": sum(int(r.get("of_pixels") or 0) for r in removed),
        }
    else:
        out["outliers_removed"] = None
    ranges = [(q.get("suggestions") or {}).get("range_8bit") for q in secs]
    suggestions = dict(first.get("suggestions") or {"applied": False})
    if all(ranges):
        suggestions["range_8bit"] = {
            "cast8bit_min": min(r["cast8bit_min"] for r in ranges),
            "cast8bit_max": max(r["cast8bit_max"] for r in ranges),
            "how": "the widest of the parts' suggestions (" + ranges[0].get("how", "") + ")",
        }
    else:
        suggestions.pop("range_8bit", None)
    out["suggestions"] = suggestions
    out["warnings"] = list(dict.fromkeys(w for q in secs for w in q.get("warnings") or ()))
    out["merged"] = {
        "parts": len(secs),
        "exact": ["raw fractions", "ring_index", "ring_index_slice", "outliers_removed", "max_line_integral"],
        "approximate": ["sharpness (mean of the parts')", "range_8bit (widest of the parts')"],
    }
    return out


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec)


def quality_notes(quality: dict[str, Any] | None) -> tuple[str, ...]:
    """Short text lines of a quality section (for the quick-look picture and summaries)."""
    if not quality or not quality.get("gathered", True):
        return () if not quality else tuple(quality.get("warnings", ()))[:1]
    centre = quality.get("centre_confidence") or {}
    rng = (quality.get("suggestions") or {}).get("range_8bit") or {}
    zing = quality.get("outliers_removed") or {}
    lines = [
        f"centre: {centre.get('label', 'given')} +-{_fmt(centre.get('uncertainty_px'))} px",
        f"ring index {_fmt(quality.get('ring_index'))} (slice {_fmt(quality.get('ring_index_slice'))} 1/cm)",
        f"sharpness {_fmt(quality.get('sharpness'))}",
        f"saturated {_fmt(quality.get('raw_saturated_fraction'), '.2e')} zero "
        f"{_fmt(quality.get('raw_zero_fraction'), '.2e')}",
        f"flat drift {_fmt(quality.get('flat_drift'), '.2%') if quality.get('flat_drift') is not None else '-'}"
        f"  outliers {zing.get('pixels', '-')}",
        f"8-bit range (suggested) {_fmt(rng.get('cast8bit_min'), '.4g')} .. {_fmt(rng.get('cast8bit_max'), '.4g')}",
    ]
    if quality.get("warnings"):
        lines[-1] += f"  WARNINGS: {len(quality['warnings'])}"
    return tuple(lines)
