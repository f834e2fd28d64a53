"""Whole simulated scans: counts with noise and artefacts, streamed to a raw file.

:func:`simulate_scan` writes a raw HDF5 file (old ALS layout or Data Exchange, through
:class:`alsmicroct.io.RawScanWriter`) one image at a time, plus ``<stem>_truth.h5`` with
the truth volume; :func:`simulate_data` returns the same images as arrays.

Count model for projection ``i`` (expected counts, before Poisson noise)::

    dark + flat_profile * beam(i) * gain * T(i)

with ``T = exp(-p)`` for the analytic line integrals ``p`` (or the polychromatic or
phase-contrast transmission), ``gain`` the per-pixel errors flats do not see (rings) and
``beam`` the slowly drifting source intensity; flats are ``dark + flat_profile *
beam(position)``; darks are ``dark``. Read noise, zingers, stripes and the 16-bit range of
the camera come on top.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError, ParameterError
from ..io.atomic import replace_durably
from . import artefacts as art
from .phantom import PHANTOMS, Phantom, _row_indices, make_phantom, phantom_volume
from .project import legacy_angles, project, project_one

__all__ = ["ScanConfig", "SimulatedScan", "simulate_data", "simulate_scan", "truth_path_for"]

logger = logging.getLogger(__name__)

_LAYOUTS = ("als", "dxchange")


@dataclass(frozen=True)
class ScanConfig:
    """Every physical parameter of a simulated scan (keywords of :func:`simulate_scan`).

    Attributes
    ----------
    phantom : {"shepp", "rock", "foam"} or Phantom
        Sample. A name is scaled to the field of view (``sample_radius_mm``) and to
        ``peak_attenuation``; a :class:`Phantom` is used as given (cm, 1/cm) unless
        ``peak_attenuation`` is set.
    nangles, nslices, nrays : int
        Projections, detector rows, detector columns.
    arange : float
        Angular range, degrees (180 or 360; 360 with ``cor`` near an edge is an
        offset-axis scan).
    first_angle : float
        Stage angle of the first projection, degrees (``rot_angle`` of the old layout).
    cor : float or None
        Rotation axis in pixels from the left edge (pixel centres); default
        ``(nrays - 1) / 2 + 0.02 * nrays`` rounded to 0.01 px (a realistic small offset).
    pxsize_mm : float
        Detector pixel size at the sample, mm (3.25 um: 2x lens on a 6.5 um camera).
    energy_kev : float
        Beam energy, keV (reference energy of the attenuation values).
    distance_mm : float
        Sample-detector distance, mm (phase-contrast propagation distance).
    i0cycle, num_flats, num_darks : int
        Flat groups every ``i0cycle`` projections (0: first and last only), flats per
        group, dark images.
    flux : float
        Peak open-beam counts (the flat field spans about 0.45 to 1 times this).
    flat_drift : float
        Relative drift of the beam intensity over the scan (flats differ by about this).
    dark_level, read_noise : float
        Dark offset and Gaussian read noise, counts.
    noise : bool
        Poisson and read noise (False: expected counts, rounded).
    rings : float
        Relative std of per-pixel gain errors flats do not capture (e.g. 0.005).
    zingers : float
        Probability per pixel and projection of a zinger (e.g. 1e-4).
    dead_columns, partial_columns, fluctuating_columns : int or sequence of int
        Stripes: number of random columns (central 80 % of the detector) or the columns.
        Dead columns read constant counts (``0.6 * flux`` + dark) in every image; partial
        ones respond with saturation at ``0.5 * flux``; fluctuating ones have a gain that
        changes randomly by ``stripe_fluctuation`` from projection to projection.
    stripe_fluctuation : float
        Relative std of the fluctuating columns' gain.
    tilt_deg : float
        Detector tilt, degrees, counter-clockwise as displayed (see :func:`project`).
    axis_drift_px : float
        Rotation axis drifting over the rows, px top to bottom (see :func:`project`).
    beam_hardening : bool or Spectrum
        Polychromatic beam: True for :meth:`Spectrum.gaussian` around ``energy_kev``.
    delta_beta : float or None
        Phase contrast: ratio delta/beta of the sample; images are Fresnel-propagated over
        ``distance_mm``.
    phase_oversample : int
        Phase contrast: the exit wave is sampled this many times finer than the detector
        pixels in both directions, propagated, and binned (limits aliasing of the strong
        phase gradients at edges).
    peak_attenuation : float, "auto" or None
        Largest line integral in the scan (attenuation scaled to it); "auto": 1.5 (about
        22 % transmission), or 0.05 with phase contrast (a weakly absorbing sample, phase
        up to ``0.025 * delta_beta`` rad), and a given :class:`Phantom` unchanged; None
        keeps the phantom's own values.
    sample_radius_mm : float or None
        Sample radius; default 90 % of the field of view around the axis.
    truth_size : int or None
        Width of the truth slices; default ``nrays`` (180 deg scans) or, for an offset axis
        scanned over 360 deg, the smallest width of ``nrays``' parity covering the sample.
    subsamples, zsamples, supersample : int
        Pixel integration of projections (across, along rows) and truth supersampling.
    seed : int
        Seed of every random element.
    """

    phantom: Any = "shepp"
    nangles: int = 361
    nslices: int = 16
    nrays: int = 256
    arange: float = 180.0
    first_angle: float = 0.0
    cor: float | None = None
    pxsize_mm: float = 0.00325
    energy_kev: float = 24.0
    distance_mm: float = 75.0
    i0cycle: int = 0
    num_flats: int = 5
    num_darks: int = 5
    flux: float = 16000.0
    flat_drift: float = 0.02
    dark_level: float = 100.0
    read_noise: float = 2.5
    noise: bool = True
    rings: float = 0.0
    zingers: float = 0.0
    dead_columns: Any = 0
    partial_columns: Any = 0
    fluctuating_columns: Any = 0
    stripe_fluctuation: float = 0.1
    tilt_deg: float = 0.0
    axis_drift_px: float = 0.0
    beam_hardening: Any = False
    delta_beta: float | None = None
    phase_oversample: int = 2
    peak_attenuation: float | str | None = "auto"
    sample_radius_mm: float | None = None
    truth_size: int | None = None
    subsamples: int = 4
    zsamples: int = 2
    supersample: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for key, low in (
            ("nangles", 2),
            ("nslices", 1),
            ("nrays", 4),
            ("subsamples", 1),
            ("zsamples", 1),
            ("phase_oversample", 1),
            ("supersample", 1),
            ("i0cycle", 0),
            ("num_flats", 1),
            ("num_darks", 1),
        ):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
                raise ParameterError(f"simulate_scan: {key}={v!r}; expected an integer >= {low}")
        for key in ("arange", "pxsize_mm", "energy_kev", "flux"):
            if not float(getattr(self, key)) > 0:
                raise ParameterError(f"simulate_scan: {key}={getattr(self, key)!r}; expected > 0")
        for key in (
            "distance_mm",
            "flat_drift",
            "dark_level",
            "read_noise",
            "rings",
            "zingers",
            "stripe_fluctuation",
        ):
            if not float(getattr(self, key)) >= 0:
                raise ParameterError(f"simulate_scan: {key}={getattr(self, key)!r}; expected >= 0")
        if self.cor is not None and not 0 <= float(self.cor) <= self.nrays - 1:
            raise ParameterError(f"simulate_scan: cor={self.cor!r}; expected a column within 0..{self.nrays - 1}")
        if isinstance(self.phantom, str) and self.phantom not in PHANTOMS:
            raise ParameterError(
                f"simulate_scan: phantom={self.phantom!r}; expected one of {', '.join(PHANTOMS)} or a Phantom"
            )
        if not isinstance(self.phantom, str | Phantom):
            raise ParameterError(f"simulate_scan: phantom={self.phantom!r}; expected a name or a Phantom")
        if self.delta_beta is not None and self.delta_beta < 0:
            raise ParameterError(f"simulate_scan: delta_beta={self.delta_beta!r}; expected >= 0")
        if self.peak_attenuation is not None and not (
            self.peak_attenuation == "auto"
            or (isinstance(self.peak_attenuation, int | float) and self.peak_attenuation > 0)
        ):
            raise ParameterError(
                f"simulate_scan: peak_attenuation={self.peak_attenuation!r}; expected a number > 0, 'auto' or None"
            )
        if self.flat_drift >= 0.5:
            raise ParameterError(f"simulate_scan: flat_drift={self.flat_drift!r}; expected < 0.5")

    @classmethod
    def from_kwargs(cls, where: str, kwargs: dict[str, Any]) -> ScanConfig:
        """Build from keywords, naming unknown ones with the closest known key."""
        import difflib

        names = {f.name for f in dataclasses.fields(cls)}
        for key in kwargs:
            if key not in names:
                hint = difflib.get_close_matches(key, names, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ParameterError(f"{where}: unknown keyword {key!r}{extra}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (a Phantom or Spectrum is given by its name/fields)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Phantom):
                v = v.name
            elif isinstance(v, art.Spectrum):
                v = dataclasses.asdict(v)
            elif isinstance(v, np.ndarray | list | tuple):
                v = np.asarray(v).tolist()
            elif isinstance(v, np.generic):
                v = v.item()
            out[f.name] = v
        return out


def _detector_keywords(cfg: ScanConfig, cor: float, pxsize_cm: float) -> dict[str, Any]:
    """Keywords of :func:`project` / :func:`project_one` for the detector of a scan."""
    return {
        "nslices": cfg.nslices,
        "nrays": cfg.nrays,
        "cor": cor,
        "pxsize_cm": pxsize_cm,
        "tilt_deg": cfg.tilt_deg,
        "axis_drift_px": cfg.axis_drift_px,
        "subsamples": cfg.subsamples,
        "zsamples": cfg.zsamples,
    }


class _Model:
    """Deterministic image generator of one scan (any image in any order)."""

    def __init__(self, cfg: ScanConfig) -> None:
        self.cfg = cfg
        n = cfg.nrays
        self.cor = float(cfg.cor) if cfg.cor is not None else round((n - 1) / 2 + 0.02 * n, 2)
        self.pxsize_cm = cfg.pxsize_mm / 10.0
        self.detector = _detector_keywords(cfg, self.cor, self.pxsize_cm)
        self.theta = legacy_angles(cfg.nangles, cfg.arange, first_angle=cfg.first_angle)
        self.offset_axis = cfg.arange >= 359.0
        near, far = sorted((self.cor + 0.5, n - 0.5 - self.cor))
        fov_px = far if self.offset_axis else near
        if cfg.truth_size is not None:
            self.truth_size = int(cfg.truth_size)
        elif self.offset_axis:
            need = 2 * max(self.cor, n - 1 - self.cor) + 1
            self.truth_size = math.ceil(need - 1e-9)
            self.truth_size += (self.truth_size - n) % 2
        else:
            self.truth_size = n
        self.phantom = self._make_phantom(0.9 * fov_px * self.pxsize_cm)
        rng = np.random.default_rng((cfg.seed, 0))
        shape = (cfg.nslices, n)
        self.flat = art.flat_profile(*shape, flux=cfg.flux, rng=rng)
        self.dark = art.dark_pattern(*shape, level=cfg.dark_level, rng=rng)
        self.gain = art.gain_errors(*shape, rings=cfg.rings, rng=rng)
        self.beam_phase = float(rng.uniform(0, 2 * math.pi))
        self.dead = art.pick_columns(cfg.dead_columns, n, rng=rng)
        self.partial = art.pick_columns(cfg.partial_columns, n, rng=rng, taken=self.dead)
        self.fluct = art.pick_columns(
            cfg.fluctuating_columns, n, rng=rng, taken=np.concatenate([self.dead, self.partial])
        )
        if cfg.beam_hardening is True:
            self.spectrum: art.Spectrum | None = art.Spectrum.gaussian(cfg.energy_kev)
        elif isinstance(cfg.beam_hardening, art.Spectrum):
            self.spectrum = cfg.beam_hardening
        elif cfg.beam_hardening is False or cfg.beam_hardening is None:
            self.spectrum = None
        else:
            raise ParameterError(f"simulate_scan: beam_hardening={cfg.beam_hardening!r}; expected a bool or a Spectrum")
        self.quadrics = self.phantom.quadrics(self.pxsize_cm)
        self._fine_quadrics: tuple[np.ndarray, ...] | None = None
        self.zinger_hits: list[np.ndarray] = []

    def _make_phantom(self, radius_cm: float) -> Phantom:
        cfg = self.cfg
        if isinstance(cfg.phantom, Phantom):
            ph = cfg.phantom
        else:
            if cfg.sample_radius_mm is not None:
                radius_cm = float(cfg.sample_radius_mm) / 10.0
            # populated slab: the rows plus what a tilt reaches (the same sample for any
            # tilt up to 2.8 deg, so tilted and straight scans can be compared)
            tilt_reach = max(abs(math.sin(math.radians(cfg.tilt_deg))), 0.05) * cfg.nrays / 2
            half_h = (cfg.nslices / 2 + 2 + tilt_reach) * self.pxsize_cm
            ph = make_phantom(cfg.phantom, radius_cm, half_height_cm=half_h, seed=cfg.seed)
        target = cfg.peak_attenuation
        if target == "auto" and isinstance(cfg.phantom, Phantom):
            target = None  # a given Phantom keeps its own attenuation
        elif target == "auto":
            target = 1.5 if cfg.delta_beta is None else 0.05
        if target is not None:
            rows = np.unique(np.linspace(0, cfg.nslices - 1, min(cfg.nslices, 16)).round().astype(int))
            pick = np.unique(np.linspace(0, cfg.nangles - 1, min(cfg.nangles, 36)).round().astype(int))
            probe = project(ph, self.theta[pick], rows=rows, **{**self.detector, "tilt_deg": 0.0})
            peak = float(probe.max())
            if peak <= 0:
                raise ParameterError(
                    f"simulate_scan: the phantom does not cross the detector rows "
                    f"(nslices={cfg.nslices}, pxsize_mm={cfg.pxsize_mm})"
                )
            ph = ph.scaled(float(target) / peak)
        return ph

    # -- images ----------------------------------------------------------------------
    def line_integrals(self, i: int, rows=None) -> np.ndarray:
        """Noise-free line integrals of projection ``i`` (float64 (rows, nrays))."""
        return project_one(self.phantom, self.theta[i], rows=rows, _quadrics=self.quadrics, **self.detector)

    def transmission(self, i: int) -> np.ndarray:
        """Detected intensity relative to the open beam for projection ``i``."""
        c = self.cfg
        if c.delta_beta is not None:
            # the wave is sampled o times finer than the detector, then binned
            o = c.phase_oversample
            fine_px = self.pxsize_cm / o
            if self._fine_quadrics is None:
                self._fine_quadrics = self.phantom.quadrics(fine_px)
            p = project_one(
                self.phantom,
                self.theta[i],
                nslices=c.nslices * o,
                nrays=c.nrays * o,
                cor=(self.cor + 0.5) * o - 0.5,
                pxsize_cm=fine_px,
                tilt_deg=c.tilt_deg,
                axis_drift_px=c.axis_drift_px * o,
                subsamples=max(1, c.subsamples // o),
                zsamples=max(1, c.zsamples // o),
                _quadrics=self._fine_quadrics,
            )
            fine = art.fresnel_intensity(
                p,
                delta_beta=c.delta_beta,
                pixel_size_cm=fine_px,
                dist_cm=c.distance_mm / 10.0,
                energy_kev=c.energy_kev,
            )
            return fine.reshape(c.nslices, o, c.nrays, o).mean(axis=(1, 3))
        p = self.line_integrals(i)
        if self.spectrum is not None:
            return self.spectrum.transmission(p)
        return np.exp(-p)

    def _rng(self, kind: int, i: int, k: int = 0) -> np.random.Generator:
        return np.random.default_rng((self.cfg.seed, kind, i, k))

    def _read_out(self, signal: np.ndarray, rng: np.random.Generator, cols=None) -> np.ndarray:
        """Photon noise, dark offset and read noise on expected signal counts (of the
        columns ``cols`` when given)."""
        c = self.cfg
        counts = rng.poisson(np.maximum(signal, 0.0)).astype(np.float64) if c.noise else signal.copy()
        counts += self.dark if cols is None else self.dark[:, cols]
        if c.noise and c.read_noise > 0:
            counts += rng.normal(0.0, c.read_noise, size=counts.shape)
        return counts

    def _stripes(self, counts: np.ndarray, signal: np.ndarray, rng: np.random.Generator) -> None:
        """Dead and partially dead columns of projections and flats (darks are normal)."""
        c = self.cfg
        if self.dead.size:  # unresponsive: the same counts with any beam and sample
            counts[:, self.dead] = self._read_out(
                np.full((c.nslices, self.dead.size), 0.6 * c.flux), rng, cols=self.dead
            )
        if self.partial.size:  # saturating response: the flats do not correct it
            sat = art.saturating_response(signal[:, self.partial], saturation=0.5 * c.flux)
            counts[:, self.partial] = self._read_out(sat, rng, cols=self.partial)

    def projection(self, i: int) -> np.ndarray:
        """Counts of projection ``i`` (uint16 (nslices, nrays))."""
        c = self.cfg
        rng = self._rng(1, i)
        beam = art.beam_intensity(i, nangles=c.nangles, drift=c.flat_drift, phase=self.beam_phase)
        gain = self.gain
        if self.fluct.size:
            gain = gain.copy()
            gain[:, self.fluct] *= 1.0 + c.stripe_fluctuation * rng.normal(size=self.fluct.size)
        signal = self.flat * beam * gain * self.transmission(i)
        counts = self._read_out(signal, rng)
        self._stripes(counts, signal, rng)
        if c.zingers > 0:
            hits = art.add_zingers(counts, rate=c.zingers, flux=c.flux, rng=rng)
            if len(hits):
                self.zinger_hits.append(np.column_stack([np.full(len(hits), i), hits]))
        return art.to_uint16(counts)

    def flat_image(self, position: int, k: int) -> np.ndarray:
        """Counts of flat ``k`` of the group at projection ``position`` (uint16)."""
        c = self.cfg
        rng = self._rng(2, position, k)
        beam = art.beam_intensity(position, nangles=c.nangles, drift=c.flat_drift, phase=self.beam_phase)
        signal = self.flat * beam
        counts = self._read_out(signal, rng)
        self._stripes(counts, signal, rng)
        return art.to_uint16(counts)

    def dark_image(self, k: int) -> np.ndarray:
        """Counts of dark ``k`` (uint16)."""
        rng = self._rng(3, k)
        return art.to_uint16(self._read_out(np.zeros_like(self.flat), rng))

    def zinger_positions(self) -> np.ndarray:
        if not self.zinger_hits:
            return np.zeros((0, 3), np.int64)
        return np.concatenate(self.zinger_hits).astype(np.int64)

    def artefacts(self) -> dict[str, np.ndarray]:
        return {
            "dead_columns": self.dead,
            "partial_columns": self.partial,
            "fluctuating_columns": self.fluct,
            "gain": self.gain.astype(np.float32),
            "zingers": self.zinger_positions(),
        }


@dataclass
class SimulatedScan:
    """Result of :func:`simulate_scan` / :func:`simulate_data`.

    Attributes
    ----------
    path : Path or None
        Raw file (None for :func:`simulate_data`).
    truth_path : Path or None
        ``<stem>_truth.h5`` (None when not written).
    cor : float
        Rotation axis, pixels from the left edge.
    angles : ndarray float64
        Reconstruction angle of every projection, radians (as the reader returns them).
    pxsize_cm : float
        Pixel size, cm.
    config : ScanConfig
    phantom : Phantom
        The sample as simulated (cm, 1/cm, attenuation scaled).
    truth_size : int
        Width of the truth slices.
    flat_positions : tuple of int
        Projection indices of the flat groups.
    artefacts : dict
        ``dead_columns``, ``partial_columns``, ``fluctuating_columns`` (column indices),
        ``gain`` (per-pixel gain errors, float32 (nslices, nrays)), ``zingers``
        (``(projection, row, column)`` of every pixel hit).
    proj, flats, darks : ndarray uint16 or None
        The images (only from :func:`simulate_data`): ``(nangles, nslices, nrays)``,
        ``(len(flat_positions) * num_flats, ...)`` and ``(num_darks, ...)``.
    flat_indices : ndarray int or None
        Projection index of every flat image (only from :func:`simulate_data`).
    """

    path: Path | None
    truth_path: Path | None
    cor: float
    angles: np.ndarray
    pxsize_cm: float
    config: ScanConfig
    phantom: Phantom
    truth_size: int
    flat_positions: tuple[int, ...]
    artefacts: dict[str, np.ndarray] = field(default_factory=dict)
    proj: np.ndarray | None = None
    flats: np.ndarray | None = None
    darks: np.ndarray | None = None
    flat_indices: np.ndarray | None = None

    def volume(self, rows=None) -> np.ndarray:
        """Truth, float32 ``(len(rows), truth_size, truth_size)`` in 1/cm: read from
        ``truth_path`` when it exists, else rasterised (same values)."""
        c = self.config
        if self.truth_path is not None and Path(self.truth_path).exists():
            import h5py

            idx = _row_indices(rows, c.nslices)
            with h5py.File(self.truth_path, "r") as f:
                vol = f["volume"]
                if rows is None:
                    return vol[...]
                return (
                    np.stack([vol[int(r)] for r in idx])
                    if len(idx)
                    else np.zeros((0, self.truth_size, self.truth_size), np.float32)
                )
        return phantom_volume(
            self.phantom,
            nslices=c.nslices,
            size=self.truth_size,
            pxsize_cm=self.pxsize_cm,
            rows=rows,
            supersample=c.supersample,
            zsamples=c.zsamples,
        )

    def line_integrals(self, proj=None, rows=None) -> np.ndarray:
        """Noise-free monochromatic line integrals (with the detector tilt) as simulated,
        float32 ``(nproj, nrows, nrays)``; ``proj`` selects projections like ``rows``."""
        idx = _row_indices(proj, self.config.nangles)
        detector = _detector_keywords(self.config, self.cor, self.pxsize_cm)
        return project(self.phantom, self.angles[idx], rows=rows, **detector)


def _result(model: _Model, path, truth_path, positions) -> SimulatedScan:
    return SimulatedScan(
        path=None if path is None else Path(path),
        truth_path=truth_path,
        cor=model.cor,
        angles=model.theta.copy(),
        pxsize_cm=model.pxsize_cm,
        config=model.cfg,
        phantom=model.phantom,
        truth_size=model.truth_size,
        flat_positions=tuple(int(p) for p in positions),
        artefacts=model.artefacts(),
    )


def _stage_angles(cfg: ScanConfig) -> np.ndarray:
    """Stage angles ``rot_angle`` (deg) of an ideal stage."""
    return cfg.first_angle + np.arange(cfg.nangles) * (cfg.arange / (cfg.nangles - 1))


def simulate_data(**params: Any) -> SimulatedScan:
    """Simulate a scan in memory: the same images :func:`simulate_scan` writes.

    Parameters
    ----------
    **params
        Keywords of :class:`ScanConfig`.

    Returns
    -------
    SimulatedScan
        With ``proj``, ``flats``, ``darks`` (uint16) and ``flat_indices`` filled,
        ``path`` and ``truth_path`` None (``volume()`` rasterises the truth).
    """
    from ..io._common import expected_flat_positions

    cfg = ScanConfig.from_kwargs("simulate_data", params)
    model = _Model(cfg)
    positions = expected_flat_positions(cfg.nangles, cfg.i0cycle)
    shape = (cfg.nslices, cfg.nrays)
    proj = np.empty((cfg.nangles, *shape), np.uint16)
    for i in range(cfg.nangles):
        proj[i] = model.projection(i)
    flats = np.stack([model.flat_image(p, k) for p in positions for k in range(cfg.num_flats)])
    darks = np.stack([model.dark_image(k) for k in range(cfg.num_darks)])
    res = _result(model, None, None, positions)
    res.proj, res.flats, res.darks = proj, flats, darks
    res.flat_indices = np.repeat(np.asarray(positions, np.int64), cfg.num_flats)
    return res


def truth_path_for(path: str | os.PathLike) -> Path:
    """``<stem>_truth.h5`` next to the raw file ``path``."""
    p = Path(path)
    return p.with_name(f"{p.stem}_truth.h5")


def simulate_scan(
    path: str | os.PathLike,
    *,
    layout: str = "als",
    dataset: str | None = None,
    write_truth: bool = True,
    owner: str = "alsuser",
    progress: bool = False,
    **params: Any,
) -> SimulatedScan:
    """Simulate a micro-CT scan and write it as a raw beamline file.

    Images are generated and written one at a time, so scans of any size need the memory
    of a few images (use ``write_truth=False`` for very large ones; ``volume(rows=...)``
    then rasterises the truth on demand).

    Parameters
    ----------
    path : str or Path
        Raw HDF5 file to write (replaced if it exists).
    layout : {"als", "dxchange"}
        Old ALS layout (with ``rot_angle`` stage angles) or Data Exchange (the
        reconstruction angles in degrees in ``/exchange/theta``). Both give the same
        ``angles`` through the reader.
    dataset : str, optional
        Dataset name (default: the file stem).
    write_truth : bool
        Write ``<stem>_truth.h5``: ``/volume`` (float32 ``(nslices, truth_size,
        truth_size)``, 1/cm), ``/cor``, ``/angles`` (radians), ``/artefacts/*`` and the
        parameters as JSON in the ``parameters`` attribute.
    owner : str
        Owner recorded in the raw file.
    progress : bool
        Log progress every 10 % at INFO level.
    **params
        Physical parameters, keywords of :class:`ScanConfig`: ``phantom``, ``nangles``,
        ``nslices``, ``nrays``, ``arange``, ``cor``, ``pxsize_mm``, ``energy_kev``,
        ``distance_mm``, ``i0cycle``, ``num_flats``, ``num_darks``, ``flux``, ``noise``,
        ``rings``, ``zingers``, stripe columns, ``tilt_deg``, ``beam_hardening``,
        ``delta_beta``, ``peak_attenuation``, ``seed``, ...

    Returns
    -------
    SimulatedScan

    Raises
    ------
    ParameterError
        Unknown or invalid keyword.
    OutputError
        The raw or truth file cannot be written.

    Examples
    --------
    Run as a doctest by ``tests/test_doctests.py`` (in a temporary folder):

    >>> s = simulate_scan("scan.h5", phantom="rock", nangles=91, nslices=4, nrays=64, seed=0)
    >>> s.path.name, s.volume().shape, s.angles.shape
    ('scan.h5', (4, 64, 64), (91,))
    """
    from ..io import RawScanWriter

    if layout not in _LAYOUTS:
        raise ParameterError(f"simulate_scan: layout={layout!r}; expected one of {_LAYOUTS}")
    cfg = ScanConfig.from_kwargs("simulate_scan", params)
    path = Path(path)
    model = _Model(cfg)
    name = dataset or path.stem
    angles_deg = np.rad2deg(model.theta) if layout == "dxchange" else _stage_angles(cfg)
    extra = {"simulator": "alsmicroct.sim", "sample": model.phantom.name}
    logger.info(
        "simulating %s: %d x %d x %d, cor %.2f",
        path,
        cfg.nangles,
        cfg.nslices,
        cfg.nrays,
        model.cor,
    )
    with RawScanWriter(
        path,
        layout=layout,
        dataset=name,
        nangles=cfg.nangles,
        nslices=cfg.nslices,
        nrays=cfg.nrays,
        arange=cfg.arange,
        pxsize_mm=cfg.pxsize_mm,
        i0cycle=cfg.i0cycle,
        num_flats=cfg.num_flats,
        num_darks=cfg.num_darks,
        energy_kev=cfg.energy_kev,
        camera_distance_mm=cfg.distance_mm if cfg.distance_mm > 0 else None,
        angles_deg=angles_deg,
        extra_attrs=extra,
        owner=owner,
    ) as w:
        positions = tuple(w.flat_positions)
        groups = set(positions)
        step = max(cfg.nangles // 10, 1)
        for i in range(cfg.nangles):
            if i in groups:
                for k in range(cfg.num_flats):
                    w.write_flat(i, k, model.flat_image(i, k))
            w.write_projection(i, model.projection(i))
            if progress and (i + 1) % step == 0:
                logger.info("%s: %d/%d projections", path.name, i + 1, cfg.nangles)
        for k in range(cfg.num_darks):
            w.write_dark(k, model.dark_image(k))
    # a truth file left by an earlier simulation to the same path belongs to another sample
    truth_path_for(path).unlink(missing_ok=True)
    truth = truth_path_for(path) if write_truth else None
    res = _result(model, path, truth, positions)
    if truth is not None:
        _write_truth(truth, res)
    return res


def _write_truth(truth: Path, res: SimulatedScan) -> None:
    """Write the truth file atomically (temporary name, then rename)."""
    import h5py

    tmp = truth.with_name(f".{truth.name}.{os.getpid()}.partial")
    c = res.config
    try:
        with h5py.File(tmp, "w") as f:
            vol = f.create_dataset(
                "volume",
                shape=(c.nslices, res.truth_size, res.truth_size),
                dtype="f4",
                chunks=(1, res.truth_size, res.truth_size),
            )
            step = max(1, 2**22 // max(res.truth_size**2, 1))
            for r0 in range(0, c.nslices, step):
                vol[r0 : r0 + step] = res.volume(rows=slice(r0, min(r0 + step, c.nslices)))
            vol.attrs["units"] = "1/cm"
            f["cor"] = res.cor
            f["angles"] = res.angles
            f["pxsize_cm"] = res.pxsize_cm
            for key, value in res.artefacts.items():
                f[f"artefacts/{key}"] = value
            f.attrs["parameters"] = json.dumps(c.to_dict())
            f.attrs["raw_file"] = str(res.path)
            f.attrs["phantom"] = res.phantom.name
        replace_durably(tmp, truth)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the truth file {truth}: {exc}") from exc
