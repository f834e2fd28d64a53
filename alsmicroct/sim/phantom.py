"""Phantoms made of ellipsoids and vertical elliptic cylinders, in physical units.

Frame (``docs/geometry.md``): ``x`` to the right along the detector rows, ``y`` downwards in
the reconstructed slice, ``z`` downwards along the rotation axis (detector rows), all
measured from the rotation axis and from the vertical middle of the detector. Lengths are
in cm, attenuation coefficients in 1/cm. Values of overlapping primitives add, so a pore
inside a matrix is a primitive of negative attenuation.

The truth volume of a scan is :func:`phantom_volume`: for detector row ``r`` the slice
``r`` is an ``N x N`` image whose pixel ``(i, j)`` is centred on ``x = j - (N - 1) / 2``,
``y = i - (N - 1) / 2``, ``z = r - (nslices - 1) / 2`` pixels, and holds the average of the
attenuation over that voxel (supersampled).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = [
    "PHANTOMS",
    "Phantom",
    "foam",
    "make_phantom",
    "phantom_volume",
    "rock",
    "shepp_logan",
]

logger = logging.getLogger(__name__)

#: Names accepted by :func:`make_phantom`.
PHANTOMS = ("shepp", "rock", "foam")


def _rot_z(phi_rad: float) -> np.ndarray:
    c, s = math.cos(phi_rad), math.sin(phi_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed 3-D rotation matrix (from a random unit quaternion)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True)
class Phantom:
    """A sum of uniform ellipsoids and vertical elliptic cylinders.

    Attributes
    ----------
    centers : ndarray, shape (n, 3)
        Centres ``(x, y, z)`` in cm from the rotation axis (frame of the module docstring).
    semi_axes : ndarray, shape (n, 3)
        Semi-axes in cm along the body axes. For a cylinder the third one is ignored.
    rotations : ndarray, shape (n, 3, 3)
        Rotation matrices, body frame to lab frame (columns = body axes in the lab).
        Cylinders may only be rotated about ``z``.
    mu : ndarray, shape (n,)
        Attenuation added inside each primitive, 1/cm (negative for pores).
    half_heights : ndarray, shape (n,)
        ``inf`` for ellipsoids; for a vertical cylinder its half height in cm.
    name : str
        Label stored with the truth.
    """

    centers: np.ndarray
    semi_axes: np.ndarray
    rotations: np.ndarray
    mu: np.ndarray
    half_heights: np.ndarray
    name: str = "phantom"

    def __post_init__(self) -> None:
        n = len(self.mu)
        shapes = {
            "centers": (n, 3),
            "semi_axes": (n, 3),
            "rotations": (n, 3, 3),
            "half_heights": (n,),
        }
        for key, shape in shapes.items():
            if np.shape(getattr(self, key)) != shape:
                raise ParameterError(f"Phantom.{key} has shape {np.shape(getattr(self, key))}, expected {shape}")
        if np.any(np.asarray(self.semi_axes)[:, :2] <= 0):
            raise ParameterError("Phantom.semi_axes must be > 0 cm")

    def __len__(self) -> int:
        return len(self.mu)

    # -- derived quadratic forms ---------------------------------------------------------
    def quadrics(self, unit_cm: float = 1.0) -> tuple[np.ndarray, ...]:
        """Quadratic forms in units of ``unit_cm`` (e.g. the pixel size).

        Returns ``(centers, A, M, half_heights, mu)``: a point ``q`` (relative to the
        centre) is inside when ``q^T A q <= 1`` and ``|q_z| <= half_height``; ``M`` gives
        the half extent of the primitive along a unit direction ``n`` as
        ``sqrt(n^T M n)`` (its ``zz`` entry is the vertical half extent).
        """
        c = np.asarray(self.centers, float) / unit_cm
        ax = np.asarray(self.semi_axes, float) / unit_cm
        rot = np.asarray(self.rotations, float)
        hh = np.asarray(self.half_heights, float) / unit_cm
        cyl = np.isfinite(hh)
        inv2 = np.where(cyl[:, None] & (np.arange(3) == 2)[None, :], 0.0, 1.0 / ax**2)
        sq = np.where(cyl[:, None] & (np.arange(3) == 2)[None, :], 0.0, ax**2)
        a_mat = np.einsum("nij,nj,nkj->nik", rot, inv2, rot)
        m_mat = np.einsum("nij,nj,nkj->nik", rot, sq, rot)
        m_mat[cyl, 2, 2] = hh[cyl] ** 2
        hh = np.where(cyl, hh, np.inf)
        return c, a_mat, m_mat, hh, np.asarray(self.mu, float)

    def evaluate(self, x, y, z) -> np.ndarray:
        """Attenuation (1/cm) at points ``(x, y, z)`` in cm (broadcast arrays), float64.

        Brute-force reference used by the tests; :func:`phantom_volume` is the fast path.
        """
        x, y, z = np.broadcast_arrays(*(np.asarray(v, float) for v in (x, y, z)))
        out = np.zeros(x.shape)
        c, a_mat, _, hh, mu = self.quadrics()
        for n in range(len(mu)):
            q = np.stack([x - c[n, 0], y - c[n, 1], z - c[n, 2]], axis=-1)
            inside = (np.einsum("...i,ij,...j->...", q, a_mat[n], q) <= 1.0) & (np.abs(q[..., 2]) <= hh[n])
            out += np.where(inside, mu[n], 0.0)
        return out

    def scaled(self, factor: float) -> Phantom:
        """The same geometry with every attenuation multiplied by ``factor``."""
        return Phantom(
            self.centers,
            self.semi_axes,
            self.rotations,
            np.asarray(self.mu, float) * float(factor),
            self.half_heights,
            self.name,
        )

    def radius_cm(self) -> float:
        """Largest horizontal distance (cm) of any primitive's surface from the axis."""
        c, _, m_mat, _, _ = self.quadrics()
        r = np.hypot(c[:, 0], c[:, 1]) + np.sqrt(np.maximum(m_mat[:, 0, 0], m_mat[:, 1, 1]))
        return float(r.max()) if len(r) else 0.0


def _from_rows(rows, radius_cm: float, *, mu_cm: float, name: str) -> Phantom:
    """Build a phantom from rows ``(value, a, b, c, x0, y0, z0, phi_deg)`` in units of
    the radius, rotated by ``phi`` about the vertical axis."""
    arr = np.asarray(rows, float)
    n = len(arr)
    return Phantom(
        centers=arr[:, 4:7] * radius_cm,
        semi_axes=arr[:, 1:4] * radius_cm,
        rotations=np.stack([_rot_z(math.radians(p)) for p in arr[:, 7]]),
        mu=arr[:, 0] * mu_cm,
        half_heights=np.full(n, np.inf),
        name=name,
    )


# Modified 3-D Shepp-Logan head (Kak & Slaney ellipsoids, Toft's higher contrast), in units
# of the radius. Columns: value, semi-axes (x, y, z), centre (x, y, z), rotation about z
# (deg). The y axis of the published table points up; it is flipped here so the slice shows
# the familiar picture with row 0 at the top.
_SHEPP_ROWS = (
    (1.0, 0.6900, 0.920, 0.810, 0.0, 0.0, 0.0, 0.0),
    (-0.8, 0.6624, 0.874, 0.780, 0.0, 0.0184, 0.0, 0.0),
    (-0.2, 0.1100, 0.310, 0.220, 0.22, 0.0, 0.0, 18.0),
    (-0.2, 0.1600, 0.410, 0.280, -0.22, 0.0, 0.0, -18.0),
    (0.1, 0.2100, 0.250, 0.410, 0.0, -0.35, -0.15, 0.0),
    (0.1, 0.0460, 0.046, 0.050, 0.0, -0.1, 0.25, 0.0),
    (0.1, 0.0460, 0.046, 0.050, 0.0, 0.1, 0.25, 0.0),
    (0.1, 0.0460, 0.023, 0.050, -0.08, 0.605, 0.0, 0.0),
    (0.1, 0.0230, 0.023, 0.020, 0.0, 0.606, 0.0, 0.0),
    (0.1, 0.0230, 0.046, 0.020, 0.06, 0.605, 0.0, 0.0),
)


#: Outer radius of the Shepp-Logan head in units of its ``radius_cm``.
_SHEPP_EXTENT = 0.92


def shepp_logan(radius_cm: float, *, mu_cm: float = 1.0) -> Phantom:
    """Modified 3-D Shepp-Logan phantom (10 ellipsoids).

    Parameters
    ----------
    radius_cm : float
        Half the height of the head (its long in-slice semi-axis is ``0.92 * radius_cm``).
    mu_cm : float
        Attenuation of the skull, 1/cm; the brain is ``0.2 * mu_cm``, the ventricles 0,
        the small features ``0.3 * mu_cm``.
    """
    if radius_cm <= 0:
        raise ParameterError(f"shepp_logan radius_cm={radius_cm!r}: expected > 0")
    return _from_rows(_SHEPP_ROWS, radius_cm, mu_cm=mu_cm, name="shepp")


def _packed_inclusions(
    rng: np.random.Generator,
    *,
    container_cm: float,
    half_height_cm: float,
    target_fraction: float,
    radius_range: tuple[float, float],
    max_count: int,
    existing: list[tuple[np.ndarray, float]],
) -> list[tuple[np.ndarray, float]]:
    """Random sequential addition of non-overlapping spheres (centre, bounding radius)
    inside a vertical cylinder of radius ``container_cm`` and half height
    ``half_height_cm``, until their volume reaches ``target_fraction`` of it."""
    volume = math.pi * container_cm**2 * 2 * half_height_cm
    centres = np.array([c for c, _ in existing], float).reshape(-1, 3)
    radii = np.array([r for _, r in existing], float)
    n_old = len(radii)
    filled = 0.0
    attempts = 0
    batch = 128
    lo, hi = math.log(radius_range[0]), math.log(radius_range[1])
    while filled < target_fraction * volume and len(radii) - n_old < max_count:
        if attempts >= 12 * max_count:
            break
        attempts += batch
        r = np.exp(rng.uniform(lo, hi, batch))
        rho = np.maximum(container_cm - r, 0.0) * np.sqrt(rng.uniform(size=batch))
        phi = rng.uniform(0, 2 * math.pi, batch)
        cand = np.column_stack([rho * np.cos(phi), rho * np.sin(phi), rng.uniform(-1, 1, batch) * half_height_cm])
        if len(radii):
            gap = np.linalg.norm(centres[:, None, :] - cand[None, :, :], axis=2)
            free = np.all(gap >= radii[:, None] + 1.05 * r[None, :], axis=0)
        else:
            free = np.ones(batch, bool)
        n_before = len(radii)
        for b in np.flatnonzero(free & (rho > 0)):
            new = centres[n_before:]
            if len(new) and np.any(np.linalg.norm(new - cand[b], axis=1) < radii[n_before:] + 1.05 * r[b]):
                continue
            centres = np.vstack([centres, cand[b]])
            radii = np.append(radii, r[b])
            filled += 4.0 / 3.0 * math.pi * r[b] ** 3 * 0.75  # ellipsoids fill ~75 %
            if filled >= target_fraction * volume or len(radii) - n_old >= max_count:
                break
    return [(centres[i], float(radii[i])) for i in range(n_old, len(radii))]


def _granular(
    name: str,
    phases: tuple[tuple[float, float, tuple[float, float], int], ...],
    radius_cm: float,
    half_height_cm: float,
    mu_matrix: float,
    seed: int,
) -> Phantom:
    """Cylindrical matrix with random ellipsoidal inclusions.

    ``phases`` holds ``(mu_total, volume_fraction, (rmin, rmax) in units of the radius,
    max_count)``; inclusions add ``mu_total - mu_matrix`` so they replace the matrix.
    """
    if radius_cm <= 0 or half_height_cm <= 0:
        raise ParameterError(f"{name}: radius_cm={radius_cm!r} and half_height_cm={half_height_cm!r} must be > 0")
    rng = np.random.default_rng(seed)
    # The matrix cylinder reaches beyond the populated slab so no end face is seen.
    matrix_h = half_height_cm + 0.5 * radius_cm
    container = 0.96 * radius_cm
    centers = [np.zeros(3)]
    axes = [np.array([radius_cm, 0.97 * radius_cm, 1.0])]
    rots = [_rot_z(rng.uniform(0, math.pi))]
    mus = [mu_matrix]
    hh = [matrix_h]
    existing: list[tuple[np.ndarray, float]] = []
    zslab = half_height_cm + 0.1 * radius_cm
    for mu_total, fraction, (rmin, rmax), max_count in phases:
        placed = _packed_inclusions(
            rng,
            container_cm=container,
            half_height_cm=zslab,
            target_fraction=fraction,
            radius_range=(rmin * radius_cm, rmax * radius_cm),
            max_count=max_count,
            existing=existing,
        )
        existing += placed
        for c, r in placed:
            centers.append(c)
            axes.append(r * np.array([1.0, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0)]))
            rots.append(_random_rotation(rng))
            mus.append(mu_total - mu_matrix)
            hh.append(np.inf)
    logger.debug("%s phantom: %d primitives", name, len(mus))
    return Phantom(
        centers=np.array(centers),
        semi_axes=np.array(axes),
        rotations=np.array(rots),
        mu=np.array(mus, float),
        half_heights=np.array(hh, float),
        name=name,
    )


def rock(radius_cm: float, *, half_height_cm: float, mu_cm: float = 1.0, seed: int = 0) -> Phantom:
    """Sandstone-like core: a cylinder of matrix with grains, pores and small features.

    Parameters
    ----------
    radius_cm : float
        Radius of the core, cm.
    half_height_cm : float
        Half height of the slab populated with inclusions (cm); the matrix cylinder extends
        further so its ends are never seen.
    mu_cm : float
        Attenuation of the matrix, 1/cm. Dense grains are ``2.2 * mu_cm``, light grains
        ``0.6 * mu_cm``, pores 0.
    seed : int
        Seed of the random inclusions.

    Notes
    -----
    Inclusions never overlap, so the truth takes only the values 0, ``0.6``, 1 and ``2.2``
    times ``mu_cm`` (up to partial-volume averaging at the edges).
    """
    phases = (
        (2.2 * mu_cm, 0.10, (0.05, 0.14), 400),  # dense grains (e.g. feldspar, oxides)
        (0.0, 0.14, (0.04, 0.12), 500),  # pores
        (0.6 * mu_cm, 0.05, (0.03, 0.08), 300),  # light grains
        (0.0, 0.004, (0.012, 0.025), 1500),  # small pores
        (2.2 * mu_cm, 0.002, (0.010, 0.020), 1500),  # small dense specks
    )
    return _granular("rock", phases, radius_cm, half_height_cm, mu_cm, seed)


def foam(radius_cm: float, *, half_height_cm: float, mu_cm: float = 1.0, seed: int = 0) -> Phantom:
    """Closed-cell foam: a cylinder of material (``mu_cm``) holding many large empty cells
    and some small ones, leaving thin walls."""
    phases = (
        (0.0, 0.45, (0.08, 0.2), 600),
        (0.0, 0.06, (0.02, 0.05), 1500),
    )
    return _granular("foam", phases, radius_cm, half_height_cm, mu_cm, seed)


def make_phantom(name: str, radius_cm: float, *, half_height_cm: float, mu_cm: float = 1.0, seed: int = 0) -> Phantom:
    """Phantom by name (one of :data:`PHANTOMS`) whose outer horizontal radius (largest
    distance from the axis) is ``radius_cm``; see each phantom for ``mu_cm``."""
    if name == "shepp":
        return shepp_logan(radius_cm / _SHEPP_EXTENT, mu_cm=mu_cm)
    if name == "rock":
        return rock(radius_cm, half_height_cm=half_height_cm, mu_cm=mu_cm, seed=seed)
    if name == "foam":
        return foam(radius_cm, half_height_cm=half_height_cm, mu_cm=mu_cm, seed=seed)
    raise ParameterError(f"phantom={name!r}: expected one of {', '.join(PHANTOMS)}")


def phantom_volume(
    phantom: Phantom,
    *,
    nslices: int,
    size: int,
    pxsize_cm: float,
    rows=None,
    supersample: int = 4,
    zsamples: int = 2,
) -> np.ndarray:
    """Rasterise ``phantom`` on the reconstruction grid (truth volume).

    Parameters
    ----------
    phantom : Phantom
    nslices : int
        Number of detector rows; row ``r`` sits at ``z = r - (nslices - 1) / 2`` pixels.
    size : int
        Slice width ``N`` (pixels); pixel ``(i, j)`` is centred on ``x = j - (N - 1) / 2``,
        ``y = i - (N - 1) / 2`` pixels from the axis.
    pxsize_cm : float
        Pixel size, cm.
    rows : None, int, slice or sequence of int
        Detector rows to rasterise (default all).
    supersample : int
        Sub-samples per pixel along ``x`` and ``y`` (the value is their average).
    zsamples : int
        Sub-samples along ``z`` across the row height (same positions as :func:`project`).

    Returns
    -------
    ndarray, float32, shape (len(rows), size, size)
        Attenuation, 1/cm.
    """
    from ._kernels import rasterize_kernel, sub_offsets

    row_idx = _row_indices(rows, nslices)
    c, a_mat, m_mat, hh, mu = phantom.quadrics(pxsize_cm)
    out = np.zeros((len(row_idx), size, size), np.float64)
    z_rows = row_idx.astype(float) - (nslices - 1) / 2.0
    rasterize_kernel(
        out,
        z_rows,
        (size - 1) / 2.0,
        sub_offsets(supersample),
        sub_offsets(zsamples),
        c,
        a_mat,
        m_mat,
        hh,
        mu,
    )
    return out.astype(np.float32)


def _row_indices(rows, nslices: int) -> np.ndarray:
    """Absolute row indices from ``None``, an int, a slice or a sequence; checked."""
    from ..errors import RangeError

    if rows is None:
        idx = np.arange(nslices)
    elif isinstance(rows, slice):
        idx = np.arange(nslices)[rows]
    elif isinstance(rows, tuple) and len(rows) <= 3 and all(v is None or isinstance(v, int) for v in rows):
        idx = np.arange(nslices)[slice(*rows)]
    else:
        idx = np.atleast_1d(np.asarray(rows, dtype=np.int64))
    if idx.size and (idx.min() < 0 or idx.max() >= nslices):
        raise RangeError(f"rows={rows!r} outside the detector's {nslices} rows")
    return idx.astype(np.int64)
