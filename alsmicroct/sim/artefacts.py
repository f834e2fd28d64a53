"""Detector and beam models of the simulator: flat field, beam drift, darks, gain errors
(rings), stripes, zingers, polychromatic attenuation (beam hardening) and Fresnel
propagation (phase contrast).

Every function works on one image (rows, columns) or on a stack; counts are float64 until
:func:`to_uint16` clips them like the camera does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = [
    "Spectrum",
    "add_zingers",
    "beam_intensity",
    "dark_pattern",
    "flat_profile",
    "fresnel_intensity",
    "gain_errors",
    "pick_columns",
    "saturating_response",
    "to_uint16",
    "wavelength_cm",
]

#: h c in keV cm: wavelength (cm) = HC_KEV_CM / energy (keV).
HC_KEV_CM = 1.239841984e-7


def wavelength_cm(energy_kev: float) -> float:
    """X-ray wavelength in cm for a photon energy in keV."""
    if energy_kev <= 0:
        raise ParameterError(f"energy_kev={energy_kev!r}: expected > 0 keV")
    return HC_KEV_CM / float(energy_kev)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, *, scale_px: float) -> np.ndarray:
    """Zero-mean, unit-std random field, smooth on ``scale_px`` pixels (Fourier filter)."""
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    spec = (rng.normal(size=(ny, nx // 2 + 1)) + 1j * rng.normal(size=(ny, nx // 2 + 1))) * np.exp(
        -2 * (math.pi * scale_px) ** 2 * (fx**2 + fy**2)
    )
    field = np.fft.irfft2(spec, s=(ny, nx))
    std = field.std()
    return (field - field.mean()) / std if std > 0 else field * 0.0


def flat_profile(nslices: int, nrays: int, *, flux: float, rng: np.random.Generator) -> np.ndarray:
    """Expected open-beam counts per pixel (float64, ``(nslices, nrays)``).

    A wide horizontal and narrower vertical beam profile (peak ``flux``, about
    ``0.45 * flux`` in the corners) times a 3 % scintillator texture and a 1 %
    pixel-to-pixel sensitivity pattern; flats record all of it.
    """
    y = (np.arange(nslices) - (nslices - 1) / 2) / max(nslices, 2)
    x = (np.arange(nrays) - (nrays - 1) / 2) / max(nrays, 2)
    prof = np.exp(-((x[None, :] / 0.75) ** 2) - (y[:, None] / 0.9) ** 2 - 0.08 * x[None, :])
    prof /= prof.max()
    texture = 1.0 + 0.03 * _smooth_field((nslices, nrays), rng, scale_px=max(nrays, nslices) / 24)
    prnu = 1.0 + 0.01 * rng.normal(size=(nslices, nrays))
    return flux * (0.45 + 0.55 * prof) * texture * prnu


def beam_intensity(t, *, nangles: int, drift: float, phase: float = 0.0) -> np.ndarray:
    """Relative beam intensity at projection time ``t`` (projection index, may be
    fractional): a decay by ``drift`` over the scan plus a smaller oscillation, so flats
    taken at different times differ by about ``drift``."""
    u = np.asarray(t, float) / max(nangles - 1, 1)
    return 1.0 - drift * u + 0.3 * drift * np.sin(2 * math.pi * 1.3 * u + phase)


def dark_pattern(nslices: int, nrays: int, *, level: float, rng: np.random.Generator) -> np.ndarray:
    """Fixed dark offset per pixel: ``level`` plus a 3-count pattern (float64)."""
    return level + 3.0 * rng.normal(size=(nslices, nrays))


def gain_errors(nslices: int, nrays: int, *, rings: float, rng: np.random.Generator) -> np.ndarray:
    """Per-pixel gain seen by projections but not by flats (relative std ``rings``):
    after flat-field correction each pixel keeps a constant error, a ring in the slice."""
    if rings < 0:
        raise ParameterError(f"rings={rings!r}: expected a relative gain error >= 0")
    return 1.0 + rings * rng.normal(size=(nslices, nrays))


def pick_columns(spec, nrays: int, *, rng: np.random.Generator, taken=()) -> np.ndarray:
    """Columns for a stripe kind: ``spec`` is a count (random distinct columns within the
    central 80 % of the detector, avoiding ``taken``) or an explicit sequence."""
    if spec is None:
        return np.zeros(0, np.int64)
    if np.ndim(spec) == 0:
        count = int(spec)
        lo, hi = int(0.1 * nrays), int(0.9 * nrays)
        pool = np.setdiff1d(np.arange(lo, hi), np.asarray(taken, np.int64))
        if count < 0 or count > len(pool):
            raise ParameterError(f"stripe column count {spec!r}: expected 0..{len(pool)}")
        return np.sort(rng.choice(pool, size=count, replace=False)).astype(np.int64)
    cols = np.asarray(spec, np.int64).ravel()
    if cols.size and (cols.min() < 0 or cols.max() >= nrays):
        raise ParameterError(f"stripe columns {cols.tolist()!r}: expected 0..{nrays - 1}")
    return cols


def saturating_response(signal: np.ndarray, *, saturation: float) -> np.ndarray:
    """Response of a partially dead pixel: ``S (1 - exp(-signal / S))``. Flats (bright)
    are compressed more than projections, so flat-field correction leaves a stripe whose
    strength depends on the transmission."""
    return saturation * -np.expm1(-np.asarray(signal, float) / saturation)


def add_zingers(image: np.ndarray, *, rate: float, flux: float, rng: np.random.Generator) -> np.ndarray:
    """Add zingers (direct hits on the camera) to ``image`` in place.

    Parameters
    ----------
    image : ndarray, float64 (rows, columns)
        Counts.
    rate : float
        Probability per pixel and image (e.g. ``1e-4``).
    flux : float
        Scale of the hits: each adds ``U(0.5, 3) * flux`` counts; 30 % also hit a
        neighbouring pixel with half of that.

    Returns
    -------
    ndarray, int, shape (n, 2)
        ``(row, column)`` of every pixel hit.
    """
    if rate < 0 or rate > 0.1:
        raise ParameterError(f"zingers={rate!r}: expected a probability per pixel in [0, 0.1]")
    ny, nx = image.shape
    n = rng.binomial(ny * nx, rate) if rate > 0 else 0
    if n == 0:
        return np.zeros((0, 2), np.int64)
    flat_idx = rng.choice(ny * nx, size=n, replace=False)
    r, c = np.divmod(flat_idx, nx)
    amp = rng.uniform(0.5, 3.0, size=n) * flux
    image[r, c] += amp
    pair = rng.uniform(size=n) < 0.3
    direction = rng.integers(0, 4, size=n)
    dr = np.array([-1, 1, 0, 0])[direction]
    dc = np.array([0, 0, -1, 1])[direction]
    r2 = np.clip(r + dr, 0, ny - 1)[pair]
    c2 = np.clip(c + dc, 0, nx - 1)[pair]
    image[r2, c2] += 0.5 * amp[pair]
    hits = np.unique(np.concatenate([np.stack([r, c], 1), np.stack([r2, c2], 1)]), axis=0)
    return hits.astype(np.int64)


@dataclass(frozen=True)
class Spectrum:
    """Polychromatic beam and a one-material attenuation law, for beam hardening.

    ``mu(E) = mu(E_ref) * (photo_fraction * (E_ref / E)**3 + 1 - photo_fraction)``
    (photo-electric plus constant Compton part), the same law for every material of the
    phantom (as for one material of varying density). Weights are the detected fraction of
    photons at each energy.

    Attributes
    ----------
    energies_kev : tuple of float
    weights : tuple of float
        Normalised to sum 1 on use.
    reference_kev : float
        Energy at which the phantom's attenuation (the truth) is given.
    photo_fraction : float
        Photo-electric share of the attenuation at the reference energy, in [0, 1].
    """

    energies_kev: tuple[float, ...]
    weights: tuple[float, ...]
    reference_kev: float
    photo_fraction: float = 0.8

    def __post_init__(self) -> None:
        e = np.asarray(self.energies_kev, float)
        w = np.asarray(self.weights, float)
        if e.shape != w.shape or e.ndim != 1 or e.size == 0:
            raise ParameterError("Spectrum: energies_kev and weights must be 1-D of equal length")
        if np.any(e <= 0) or np.any(w < 0) or w.sum() <= 0:
            raise ParameterError("Spectrum: energies must be > 0 keV and weights >= 0, not all 0")
        if not 0.0 <= self.photo_fraction <= 1.0:
            raise ParameterError(f"Spectrum.photo_fraction={self.photo_fraction!r}: expected [0, 1]")

    @classmethod
    def gaussian(
        cls,
        reference_kev: float,
        *,
        fwhm_kev: float | None = None,
        photo_fraction: float = 0.8,
        n: int = 41,
    ) -> Spectrum:
        """A filtered bending-magnet-like band: Gaussian of ``fwhm_kev`` (default 40 % of
        the reference energy) centred on ``reference_kev``."""
        fwhm = 0.4 * reference_kev if fwhm_kev is None else float(fwhm_kev)
        sigma = fwhm / 2.3548
        e = np.linspace(max(reference_kev - 3 * sigma, 0.3 * reference_kev), reference_kev + 3 * sigma, n)
        w = np.exp(-0.5 * ((e - reference_kev) / sigma) ** 2)
        return cls(tuple(e.tolist()), tuple(w.tolist()), float(reference_kev), photo_fraction)

    def relative_mu(self) -> np.ndarray:
        """``mu(E_k) / mu(E_ref)`` for every energy of the spectrum."""
        e = np.asarray(self.energies_kev, float)
        f = self.photo_fraction
        return f * (self.reference_kev / e) ** 3 + (1.0 - f)

    def transmission(self, line_integral) -> np.ndarray:
        """Detected polychromatic transmission for line integrals (at the reference
        energy, dimensionless); ``-log`` of it is a concave function of the thickness."""
        p = np.asarray(line_integral, float)
        w = np.asarray(self.weights, float)
        w = w / w.sum()
        out = np.zeros_like(p)
        for wk, rk in zip(w, self.relative_mu(), strict=False):
            out += wk * np.exp(-rk * p)
        return out


def fresnel_intensity(
    line_integral: np.ndarray,
    *,
    delta_beta: float,
    pixel_size_cm: float,
    dist_cm: float,
    energy_kev: float,
    pad: bool = True,
) -> np.ndarray:
    """Propagation-based phase contrast of a single-material sample.

    The exit wave is ``exp(-k (beta + i delta) L)`` with ``mu = 2 k beta``, so its
    amplitude is ``exp(-p / 2)`` and its phase ``-(delta/beta) p / 2`` for the line
    integral ``p = mu L``. It is propagated over ``dist_cm`` with the Fresnel propagator
    ``exp(-i pi lambda z (fx^2 + fy^2))``; the result is the intensity on the detector
    relative to the open beam.

    Parameters
    ----------
    line_integral : ndarray (rows, columns)
        Dimensionless attenuation line integrals ``p``.
    delta_beta : float
        Ratio ``delta / beta`` of the material (e.g. ~1000 for soft matter at 20-30 keV).
    pixel_size_cm, dist_cm : float
        Pixel size and sample-detector distance, cm.
    energy_kev : float
        Photon energy, keV.
    pad : bool
        Pad the wave with its edge values by a margin of at least 32 pixels and 8 Fresnel
        lengths ``sqrt(lambda z)``, so the image does not wrap around.

    Returns
    -------
    ndarray float64, same shape
        Intensity (transmission with phase contrast).
    """
    p = np.asarray(line_integral, float)
    if delta_beta < 0 or pixel_size_cm <= 0 or dist_cm < 0:
        raise ParameterError(
            f"delta_beta={delta_beta!r}, pixel_size_cm={pixel_size_cm!r}, dist_cm={dist_cm!r}: "
            "expected delta_beta >= 0, pixel size > 0, distance >= 0"
        )
    from scipy import fft as sfft

    wave = np.exp(-0.5 * p * (1.0 + 1j * delta_beta))
    ny, nx = p.shape
    lam = wavelength_cm(energy_kev)
    if pad:
        # the Fresnel kernel spreads an edge over a few sqrt(lambda z); pad well beyond that
        margin = max(32, math.ceil(8 * math.sqrt(lam * dist_cm) / pixel_size_cm))
        py = sfft.next_fast_len(ny + 2 * margin) - ny
        px = sfft.next_fast_len(nx + 2 * margin) - nx
        wave = np.pad(wave, ((py // 2, py - py // 2), (px // 2, px - px // 2)), mode="edge")
    else:
        py = px = 0
    fy = sfft.fftfreq(wave.shape[0], d=pixel_size_cm)[:, None]
    fx = sfft.fftfreq(wave.shape[1], d=pixel_size_cm)[None, :]
    prop = np.exp(-1j * math.pi * lam * dist_cm * (fx**2 + fy**2))
    out = sfft.ifft2(sfft.fft2(wave) * prop)
    out = out[py // 2 : py // 2 + ny, px // 2 : px // 2 + nx]
    return np.abs(out) ** 2


def to_uint16(counts: np.ndarray) -> np.ndarray:
    """Round and clip counts to the camera's 16-bit range."""
    return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)
