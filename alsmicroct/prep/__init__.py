"""Pre-processing of ALS 8.3.2 projections: outliers, normalisation, -log, stripes,
beam hardening, tilt, 360 -> 180 degree stitching and phase retrieval.

Every function takes and returns float32 ``(angle, row, column)`` arrays (data first,
options keyword-only) and can be used alone in a notebook or by the streaming
:func:`alsmicroct.reconstruction.recon` on chunks:

- projection steps (chunk by projections): :func:`normalize`, :func:`normalize_nf`,
  :func:`minus_log`, :func:`remove_outlier_2d`, :func:`beam_hardening`,
  :func:`correct_tilt`, :func:`retrieve_phase`;
- sinogram steps (chunk by rows): :func:`remove_outlier_1d`, :func:`remove_stripe_fw`,
  :func:`remove_stripe_ti`, :func:`remove_stripe_sf`, :func:`sino_360_to_180`.

Submodules other than :mod:`.normalize` are imported on first use. The normalisation
functions are imported eagerly because the function ``normalize`` shares its name with
its submodule: importing the submodule binds the package attribute ``normalize`` to the
module, and the eager import rebinds it to the function whatever is imported first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .normalize import minus_log, normalize, normalize_nf

__all__ = [
    "apply_masked",
    "beam_hardening",
    "correct_tilt",
    "detect_stripes",
    "find_center_360",
    "minus_log",
    "normalize",
    "normalize_nf",
    "remove_all_stripe",
    "remove_dead_stripe",
    "remove_large_stripe",
    "remove_outlier_1d",
    "remove_outlier_2d",
    "remove_stripe_auto",
    "remove_stripe_based_sorting",
    "remove_stripe_fw",
    "remove_stripe_sf",
    "remove_stripe_ti",
    "retrieve_phase",
    "sino_360_to_180",
]

#: public name -> submodule that defines it
_SOURCES = {
    "remove_outlier_1d": "outliers",
    "remove_outlier_2d": "outliers",
    "beam_hardening": "beamhardening",
    "remove_stripe_fw": "stripes",
    "remove_stripe_ti": "stripes",
    "remove_stripe_sf": "stripes",
    "detect_stripes": "stripes_vo",
    "apply_masked": "stripes_vo",
    "remove_stripe_based_sorting": "stripes_vo",
    "remove_large_stripe": "stripes_vo",
    "remove_dead_stripe": "stripes_vo",
    "remove_all_stripe": "stripes_vo",
    "remove_stripe_auto": "stripes_vo",
    "correct_tilt": "tilt",
    "sino_360_to_180": "stitch",
    "find_center_360": "stitch",
    "retrieve_phase": "phase",
}

if TYPE_CHECKING:  # pragma: no cover
    from .beamhardening import beam_hardening
    from .outliers import remove_outlier_1d, remove_outlier_2d
    from .phase import retrieve_phase
    from .stitch import find_center_360, sino_360_to_180
    from .stripes import remove_stripe_fw, remove_stripe_sf, remove_stripe_ti
    from .stripes_vo import (
        apply_masked,
        detect_stripes,
        remove_all_stripe,
        remove_dead_stripe,
        remove_large_stripe,
        remove_stripe_auto,
        remove_stripe_based_sorting,
    )
    from .tilt import correct_tilt


def __getattr__(name: str):
    module_name = _SOURCES.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{module_name}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
