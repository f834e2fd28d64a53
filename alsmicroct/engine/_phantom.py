"""Analytic ellipse phantoms for the engine's tests and benchmarks (private).

An ellipse is a row ``(value, a, b, x0, y0, phi)``: attenuation in 1/pixel, semi-axes
``a`` (along the rotated x axis) and ``b`` in pixels, centre ``(x0, y0)`` in pixels from
the rotation axis (x to the right, y downwards, as in ``docs/geometry.md``) and rotation
``phi`` in radians. Projections are exact chord lengths, averaged over the width of each
detector pixel; the truth image is rasterised with supersampling.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ellipse_image", "ellipse_sinogram", "shepp_ellipses"]

# Modified (high-contrast) Shepp-Logan in units of the half-width of the object.
_SHEPP = np.array(
    [
        [1.0, 0.69, 0.92, 0.0, 0.0, 0.0],
        [-0.8, 0.6624, 0.874, 0.0, -0.0184, 0.0],
        [-0.2, 0.11, 0.31, 0.22, 0.0, -18.0],
        [-0.2, 0.16, 0.41, -0.22, 0.0, 18.0],
        [0.1, 0.21, 0.25, 0.0, 0.35, 0.0],
        [0.1, 0.046, 0.046, 0.0, 0.1, 0.0],
        [0.1, 0.046, 0.046, 0.0, -0.1, 0.0],
        [0.1, 0.046, 0.023, -0.08, -0.605, 0.0],
        [0.1, 0.023, 0.023, 0.0, -0.606, 0.0],
        [0.1, 0.023, 0.046, 0.06, -0.605, 0.0],
    ]
)


def shepp_ellipses(radius: float, *, value: float = 1.0) -> np.ndarray:
    """Modified Shepp-Logan ellipses scaled to ``radius`` pixels.

    Parameters
    ----------
    radius : float
        Half-width of the phantom in pixels.
    value : float, keyword-only
        Attenuation of the outer ellipse in 1/pixel.

    Returns
    -------
    ndarray, shape (10, 6)
        Ellipse table (see module docstring).
    """
    e = _SHEPP.copy()
    e[:, 0] *= value
    e[:, 1:5] *= radius
    e[:, 5] = np.deg2rad(e[:, 5])
    return e


def ellipse_sinogram(
    ellipses: np.ndarray,
    theta: np.ndarray,
    ncols: int,
    *,
    center: float,
    subsamples: int = 4,
) -> np.ndarray:
    """Exact parallel-beam projections of a sum of ellipses.

    Parameters
    ----------
    ellipses : ndarray, shape (n, 6)
        Ellipse table.
    theta : ndarray, shape (nangles,)
        Angles in radians.
    ncols : int
        Detector columns.
    center : float, keyword-only
        Rotation axis in pixels from the left edge (pixel-centre convention).
    subsamples : int, keyword-only
        Sub-samples per detector pixel (averaged).

    Returns
    -------
    ndarray, float32, shape (nangles, ncols)
        Line integrals (dimensionless).
    """
    th = np.asarray(theta, dtype=np.float64)[:, None, None]
    offs = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    s = (np.arange(ncols)[:, None] - center + offs[None, :])[None]
    nx, ny = np.cos(th), -np.sin(th)
    out = np.zeros((th.shape[0], ncols, subsamples))
    for val, a, b, x0, y0, phi in np.asarray(ellipses, dtype=np.float64):
        npx = nx * np.cos(phi) + ny * np.sin(phi)
        npy = -nx * np.sin(phi) + ny * np.cos(phi)
        alpha2 = (a * npx) ** 2 + (b * npy) ** 2
        t = s - (nx * x0 + ny * y0)
        out += 2.0 * val * a * b * np.sqrt(np.clip(alpha2 - t * t, 0.0, None)) / alpha2
    return out.mean(axis=-1).astype(np.float32)


def ellipse_image(ellipses: np.ndarray, size: int, *, supersample: int = 4) -> np.ndarray:
    """Rasterise ellipses on an N x N slice centred on the axis.

    Parameters
    ----------
    ellipses : ndarray, shape (n, 6)
        Ellipse table.
    size : int
        Slice size N; pixel ``(r, c)`` is at ``x = c - (N-1)/2``, ``y = r - (N-1)/2``.
    supersample : int, keyword-only
        Sub-pixels per pixel and axis (averaged).

    Returns
    -------
    ndarray, float32, shape (size, size)
        Attenuation in 1/pixel.
    """
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    coords = (np.arange(size)[:, None] - (size - 1) / 2.0 + offs[None, :]).ravel()
    img = np.zeros((size, size), dtype=np.float64)
    block = max(1, 65536 // (size * supersample))  # pixel rows per block
    for val, a, b, x0, y0, phi in np.asarray(ellipses, dtype=np.float64):
        for r0 in range(0, size, block):
            r1 = min(size, r0 + block)
            dy = (coords[r0 * supersample : r1 * supersample] - y0)[:, None]
            dx = (coords - x0)[None, :]
            u = dx * np.cos(phi) + dy * np.sin(phi)
            v = -dx * np.sin(phi) + dy * np.cos(phi)
            inside = ((u / a) ** 2 + (v / b) ** 2 <= 1.0).astype(np.float64)
            img[r0:r1] += val * inside.reshape(r1 - r0, supersample, size, supersample).mean(axis=(1, 3))
    return img.astype(np.float32)
