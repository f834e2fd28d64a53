"""Validated, frozen parameters of :func:`alsmicroct.reconstruction.recon`.

Every legacy keyword of the beamline's old ``recon()`` is a field of :class:`ReconParams`,
with the same name and default. Values may arrive as Python objects or as strings (from a
spreadsheet, a path list or an old parameter file); both are converted by the field's
declared kind and checked. Unknown or misspelled keys are errors with a "did you mean"
hint -- the old toolkit silently swallowed typos.

Parsing stays cheap: this module imports only the bottom layer (``errors``, ``checks``,
``names``; NumPy through ``checks``), never scipy, numba or the engine.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import names as _names
from .checks import check_file_prefix, check_order, check_wavelet
from .errors import ParameterError
from .io._base import MAX_PIXEL_MM

__all__ = [
    "PARAMETER_GROUPS",
    "ReconParams",
    "expand_env",
    "parameter_help",
    "parse_overrides",
    "parse_resume",
    "parse_switch",
    "parse_value",
    "suggest_key",
]

_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}
_NONE = {"", "none", "null"}
#: ReconParams fields of the iterative algorithms -> option names of the engine.
_ITERATIVE = {"num_iter": "num_iter", "nonneg": "nonneg", "relaxation": "relaxation", "tv_weight": "tv_weight"}
_ITERATIVE.update(iter_tol="tol", iter_start="start")
#: Options of gridrec/fbp that the iterative algorithms do not use (an error when changed).
_DIRECT_ONLY = ("filter_name", "butterworth_cutoff", "butterworth_order", "npad")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _spec(kind: str, default: Any, *, optional: bool = False, doc: str = "", **checks: Any):
    """Declare a parameter field: its kind drives conversion, ``checks`` its validation."""
    meta = {"kind": kind, "optional": optional, "doc": doc, **checks}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ReconParams:
    """All parameters of one reconstruction, validated.

    Field names and defaults are those of the legacy ``recon()``; see each field's
    ``doc`` metadata (``ReconParams.describe(name)``) for meaning and units. Build with
    :meth:`from_mapping` to get "did you mean" hints for unknown keys; the constructor
    itself converts and checks values too.
    """

    inputPath: str = _spec("str", "./", folder=True, doc="folder of the raw file")
    outputPath: str | None = _spec("str", None, optional=True, folder=True, doc="output root (default: inputPath)")
    outputFilename: str | None = _spec(
        "str", None, optional=True, filename=True, doc="slice file prefix, a plain name (default: file stem)"
    )
    doOutliers1D: bool = _spec("bool", False, doc="median outlier removal along the angle axis (raw counts)")
    outlier_diff1D: float = _spec("float", 750.0, min=0.0, doc="threshold, counts")
    outlier_size1D: int = _spec(
        "int",
        3,
        min=1,
        max=255,
        hint="; a wider median window removes structure, not outliers",
        doc="median size along angles, projections (1..255)",
    )
    doOutliers2D: bool = _spec("bool", False, doc="2-D median bright-outlier removal per projection")
    outlier_diff2D: float = _spec("float", 750.0, min=0.0, doc="threshold, counts")
    outlier_size2D: int = _spec(
        "int",
        3,
        min=1,
        max=255,
        hint="; a wider median window removes structure, not outliers",
        doc="median size, pixels (1..255)",
    )
    doFWringremoval: bool = _spec(
        "bool",
        True,
        doc="ring (stripe) removal with ringMethod, by default "
        "Fourier-wavelet (Muench) on the detected stripe columns only (ringMask)",
    )
    doTIringremoval: bool = _spec("bool", False, doc="Titarenko stripe removal")
    doSFringremoval: bool = _spec("bool", False, doc="smoothing-filter stripe removal (Rivers)")
    ringSigma: float = _spec("float", 3.0, min_excl=0.0, doc="FW damping sigma")
    ringLevel: int = _spec("int", 8, min=1, doc="FW decomposition level")
    ringWavelet: str = _spec("str", "db5", doc="FW wavelet name (PyWavelets)")
    ringNBlock: int = _spec("int", 0, min=0, doc="TI number of blocks")
    ringAlpha: float = _spec("float", 1.5, min_excl=0.0, doc="TI damping factor")
    ringSize: int = _spec("int", 5, min=1, max=255, doc="SF filter size, pixels")
    ringMethod: str = _spec(
        "str",
        "fw",
        choices=_names.RING_METHODS,
        doc="filter of doFWringremoval: fw (Fourier-wavelet, legacy), ti, sf, sorting "
        "(Vo), large (Vo: wide/partial stripes), dead (Vo: dead/fluctuating columns, "
        "then large), all (Vo: dead, large, sorting)",
    )
    ringMask: bool = _spec(
        "bool",
        True,
        doc="fw/ti/sf/sorting correct only the stripe columns found in each sinogram (angular-mean profile "
        "against the slope-following background of its neighbours, ringSnr/ringDetectSize/ringDilate), after "
        "ringDead (fw: only the angle-constant part of its correction, except on strong stripes, then a second "
        "pass on the stripes still detected); False: the exact legacy unmasked filters",
    )
    ringDead: bool = _spec(
        "bool", True, doc="with ringMask: interpolate dead/frozen/fluctuating columns (neighbours less their stripes)"
    )
    ringSnr: float = _spec(
        "float", 3.0, min_excl=0.0, doc="stripe detection threshold, noise standard deviations of the column mean"
    )
    ringDetectSize: int = _spec(
        "int",
        9,
        min=3,
        max=1001,
        doc="stripe detection median window, columns (finds stripes up to "
        "(size-1)/2 wide; wider windows take sample edges for stripes)",
    )
    ringDilate: int = _spec("int", 2, min=0, max=100, doc="columns added on each side of a detected stripe")
    doPhaseRetrieval: bool = _spec("bool", False, doc="single-distance Paganin phase retrieval")
    alphaReg: float = _spec("float", 0.0002, min_excl=0.0, doc="Paganin regularisation (TomoPy alpha)")
    propagation_dist: float | None = _spec(
        "float", 75.0, optional=True, min_excl=0.0, doc="propagation distance, cm (None: from the raw file)"
    )
    kev: float | None = _spec(
        "float", 24.0, optional=True, min_excl=0.0, doc="photon energy, keV (None: from the raw file)"
    )
    butterworth_cutoff: float = _spec("float", 0.25, min_excl=0.0, max=1.0, doc="filter cutoff, fraction of Nyquist")
    butterworth_order: int = _spec("int", 2, min=1, doc="Butterworth order")
    doPolarRing: bool = _spec("bool", False, doc="post-reconstruction polar ring removal")
    Rarc: float = _spec("float", 30.0, min_excl=0.0, doc="minimum arc angle, degrees")
    Rmaxwidth: int = _spec("int", 100, min=1, doc="maximum ring width, pixels")
    Rtmax: float = _spec("float", 3000.0, doc="upper threshold, image units")
    Rthr: float = _spec("float", 3000.0, doc="ring threshold, image units")
    Rtmin: float = _spec("float", -3000.0, doc="lower threshold, image units")
    cor: float | None = _spec("float", None, optional=True, doc="centre of rotation, pixels from the left edge")
    corFunction: str = _spec("str", "pc", choices=_names.CENTER_METHODS, doc="centre-finding method")
    voInd: int | None = _spec("int", None, optional=True, min=0, doc="row for Vo's method")
    voSMin: float = _spec("float", -40.0, doc="Vo search start, pixels from the middle")
    voSMax: float = _spec("float", 40.0, doc="Vo search end, pixels from the middle")
    voSRad: float = _spec("float", 10.0, min_excl=0.0, doc="Vo fine search radius, pixels")
    voStep: float = _spec("float", 0.5, min_excl=0.0, max=10.0, doc="Vo fine search step, pixels")
    voRatio: float = _spec("float", 2.0, min_excl=0.0, doc="Vo mask ratio")
    voDrop: int = _spec("int", 20, min=0, max=1000, doc="Vo dropped low-frequency lines")
    nmInd: int | None = _spec("int", None, optional=True, min=0, doc="row for entropy minimisation")
    nmInit: float | None = _spec("float", None, optional=True, doc="initial centre guess, pixels")
    nmTol: float = _spec("float", 0.5, min_excl=0.0, doc="Nelder-Mead tolerance, pixels")
    nmMask: bool = _spec("bool", True, doc="mask outside the field of view in entropy minimisation")
    nmRatio: float = _spec("float", 1.0, min_excl=0.0, max=1.0, doc="mask radius ratio")
    nmSinoOrder: bool = _spec("bool", False, doc="legacy flag, accepted for compatibility")
    use360to180: bool = _spec("bool", False, doc="stitch a 360 deg offset-axis scan to 180 deg")
    doBilateralFilter: bool = _spec("bool", False, doc="3-D bilateral filter of the reconstruction")
    bilateral_srad: int = _spec("int", 3, min=1, doc="spatial radius, voxels")
    bilateral_rrad: float = _spec("float", 30.0, min_excl=0.0, doc="range radius, grey values as written")
    castTo8bit: bool = _spec("bool", False, doc="write uint8 slices")
    outputFormat: str = _spec(
        "str",
        "tiff",
        choices=_names.OUTPUT_FORMATS,
        doc="tiff: <prefix>_NNNNN.tiff slices; zarr: <prefix>.ome.zarr (OME-Zarr, "
        "axes in micrometer); h5: <prefix>.h5 (/exchange/data)",
    )
    ngffVersion: str = _spec(
        "str",
        "0.5",
        choices=_names.NGFF_VERSIONS,
        numbers_as_text=True,
        doc="OME-Zarr version of outputFormat=zarr: 0.5 (Zarr v3) or 0.4 (Zarr v2)",
    )
    zarrMultiscale: bool = _spec("bool", False, doc="outputFormat=zarr: add 2x-downsampled levels down to <= 256 px")
    cast8bit_min: float = _spec("float", -10.0, doc="value mapped to 0, 1/cm")
    cast8bit_max: float = _spec("float", 30.0, doc="value mapped to 255, 1/cm")
    useNormalize_nf: bool = _spec("bool", False, doc="normalise with the nearest flat group")
    chunk_proj: int = _spec("int", 100, min=1, doc="projections per chunk (projection steps)")
    chunk_sino: int = _spec("int", 100, min=1, doc="rows per chunk (sinogram steps)")
    npad: int | None = _spec(
        "int",
        None,
        optional=True,
        min=0,
        max=100_000,
        hint="; the legacy default (None) pads to the row's diagonal",
        doc="edge padding each side, pixels (0..100000)",
    )
    projused: tuple[int, ...] | None = _spec("range", None, optional=True, doc="(start, end, step) of projections")
    sinoused: tuple[int, ...] | None = _spec(
        "range", None, optional=True, doc="(start, end, step) of rows; (-1, N, step) = central N rows"
    )
    correcttilt: float = _spec(
        "float",
        0.0,
        min=-45.0,
        max=45.0,
        hint="; a detector tilt of more than 45 degrees is almost surely a typo (degrees, not radians or hundredths?)",
        doc="detector tilt to correct, degrees (-45..45)",
    )
    autoTilt: str = _spec(
        "str",
        "apply",
        choices=("off", "detect", "apply"),
        doc="with correcttilt=0: estimate the tilt from the 0/180 pair and record it (apply: also "
        "correct it when it matters; detect: only warn then; off: neither)",
    )
    tiltcenter_slice: float | None = _spec("float", None, optional=True, doc="tilt centre row, pixels")
    tiltcenter_det: float | None = _spec("float", None, optional=True, doc="tilt centre column, pixels")
    angle_offset: float = _spec(
        "float",
        0.0,
        min=-360.0,
        max=360.0,
        hint="; an offset of more than one turn is almost surely a typo "
        "(degrees, not radians or hundredths?): give it modulo 360",
        doc="added to the legacy angles, degrees (-360..360: one turn at most)",
    )
    anglelist: tuple[float, ...] | int | None = _spec(
        "anglelist",
        None,
        optional=True,
        doc="None: legacy angles; -1: per-projection rot_angle; or one angle per projection, radians",
    )
    doBeamHardening: bool = _spec("bool", False, doc="polynomial beam-hardening correction")
    BeamHardeningCoefficients: tuple[float, ...] | None = _spec(
        "floats", None, optional=True, length=6, doc="a0..a5 (default 0, 1, 0, 0, 0, 0.1)"
    )
    projIgnoreList: tuple[int, ...] | None = _spec("ints", None, optional=True, doc="projections to zero")
    # New in alsmicroct (not in the legacy set).
    algorithm: str = _spec(
        "str",
        "gridrec",
        choices=_names.ALGORITHMS,
        doc="reconstruction algorithm: gridrec, fbp, or iterative sirt, cgls, tv "
        "(total variation; for few-angle and low-dose scans)",
    )
    num_iter: int | None = _spec(
        "int",
        None,
        optional=True,
        min=1,
        max=10_000,
        doc="iterations of sirt/cgls/tv, at most (None: 100 sirt, 30 cgls, 200 tv)",
    )
    nonneg: bool | None = _spec("bool", None, optional=True, doc="sirt/tv: keep attenuation >= 0 (None: True)")
    relaxation: float | None = _spec(
        "float", None, optional=True, min_excl=0.0, doc="sirt step, 0 < relaxation < 2 (None: 1.9)"
    )
    tv_weight: float | None = _spec(
        "float",
        None,
        optional=True,
        min_excl=0.0,
        max=1.0,
        doc="tv regularisation weight, a fraction of the image scale, 0..1 (None: 0.003; larger is smoother)",
    )
    iter_tol: float | None = _spec(
        "float",
        None,
        optional=True,
        min=0.0,
        doc="stopping rule, per row: stop when the residual falls by less than this "
        "fraction (cgls/tv: or reaches the noise level); 0 runs num_iter "
        "(None: 0.001 sirt/cgls, 0 tv)",
    )
    iter_start: str | None = _spec(
        "str",
        None,
        optional=True,
        choices=_names.ITERATIVE_STARTS,
        doc="sirt/cgls/tv starting image: zero, gridrec, or ramp (gridrec with "
        "the Shepp-Logan filter) (None: gridrec sirt/cgls, ramp tv)",
    )
    filter_name: str = _spec("str", "butterworth", choices=_names.FILTER_NAMES, doc="gridrec filter")
    num_threads: int | None = _spec("int", None, optional=True, min=1, max=1024, doc="threads (default: all cores)")
    memoryCheck: str = _spec(
        "str",
        "fit",
        choices=_names.MEMORY_CHECKS,
        doc="before a local run, compare the estimated memory of one block with the free memory: "
        "'fit' runs in smaller blocks when it does not fit, 'error' refuses naming chunk_sino/npad, 'warn' logs",
    )
    badData: str = _spec(
        "str",
        "error",
        choices=("error", "repair"),
        doc="raw NaN/inf, all-zero rows, darks >= flats: 'error' refuses, 'repair' "
        "interpolates with a warning (alsmicroct.io.sanity)",
    )
    pixel_size: float | None = _spec(
        "float",
        None,
        optional=True,
        min_excl=0.0,
        max=MAX_PIXEL_MM,
        doc="detector pixel size, mm (None: from the raw file; without either the output is in 1/pixel)",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = _convert(f, getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        check_order(self.cast8bit_min, self.cast8bit_max, "cast8bit_min", "cast8bit_max")
        check_order(self.voSMin, self.voSMax, "voSMin", "voSMax", strict=False)
        check_order(self.Rtmin, self.Rtmax, "Rtmin", "Rtmax")
        if self.ringWavelet:
            check_wavelet(self.ringWavelet, "ringWavelet")
        self.iterative_options()

    def iterative_options(self) -> dict[str, Any] | None:
        """The iterative algorithm's options with defaults filled in (None for gridrec/fbp).

        Raises
        ------
        ParameterError
            When an iterative option is set with gridrec/fbp, or not used by the chosen
            algorithm, or out of its range (checked by
            :func:`alsmicroct.engine.iterative.check_iterative_options`); when a gridrec/fbp
            option (filter, padding) is changed from its default with an iterative algorithm.
        """
        given = {name: getattr(self, name) for name in _ITERATIVE}
        if self.algorithm in _names.DIRECT_ALGORITHMS:
            for name, value in given.items():
                if value is not None:
                    raise ParameterError(
                        f"{name}={value!r} is an option of the iterative algorithms (sirt, cgls, "
                        f"tv) but algorithm={self.algorithm!r}; set algorithm or drop {name}"
                    )
            return None
        for f in (f for f in dataclasses.fields(self) if f.name in _DIRECT_ONLY and getattr(self, f.name) != f.default):
            raise ParameterError(
                f"{f.name}={getattr(self, f.name)!r} applies to gridrec and fbp, not to algorithm={self.algorithm!r} "
                f"(iter_start chooses its starting image); drop {f.name} or use algorithm='gridrec'"
            )
        from .engine.iterative import check_iterative_options  # numpy only for iterative runs

        return check_iterative_options(self.algorithm, names=_ITERATIVE, **{_ITERATIVE[k]: v for k, v in given.items()})

    # ----------------------------------------------------------------- construction
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all parameters, in declaration (legacy) order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def describe(cls, name: str) -> str:
        """One-line description (with units) of parameter ``name``."""
        return _field(name).metadata["doc"]

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None = None, *, source: str | None = None, **kwargs: Any
    ) -> ReconParams:
        """Build from a mapping of keyword -> value (values may be strings).

        Parameters
        ----------
        mapping : mapping, optional
            Keyword names and values.
        source : str, optional
            Where the values come from (e.g. ``"list.txt line 7"``), quoted in errors.
        **kwargs
            More keywords; they win over ``mapping``.

        Raises
        ------
        ParameterError
            For an unknown key (with a "did you mean" hint) or a bad value.
        """
        values = dict(mapping or {})
        values.update(kwargs)
        names = set(cls.field_names())
        where = f" ({source})" if source else ""
        for key in values:
            if key not in names:
                raise ParameterError(f"unknown parameter {key!r}{where}{suggest_key(key)}")
        try:
            return cls(**values)
        except ParameterError as exc:
            if source:
                raise ParameterError(f"{exc} ({source})") from None
            raise

    def replace(self, **changes: Any) -> ReconParams:
        """A copy with some parameters changed (validated like :meth:`from_mapping`)."""
        return type(self).from_mapping(self.to_dict(), **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all parameters (tuples as lists), JSON/TOML friendly."""
        out = {}
        for name in self.field_names():
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


#: Parameters grouped by pipeline step, in pipeline order (for ``help(recon)`` and docs).
PARAMETER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Input and output",
        (
            "inputPath",
            "outputPath",
            "outputFilename",
            "sinoused",
            "projused",
            "projIgnoreList",
            "badData",
            "pixel_size",
            "castTo8bit",
            "cast8bit_min",
            "cast8bit_max",
            "outputFormat",
            "ngffVersion",
            "zarrMultiscale",
        ),
    ),
    ("Angles", ("angle_offset", "anglelist")),
    (
        "Outliers (zingers)",
        ("doOutliers1D", "outlier_diff1D", "outlier_size1D", "doOutliers2D", "outlier_diff2D", "outlier_size2D"),
    ),
    ("Flat-field normalisation", ("useNormalize_nf", "doBeamHardening", "BeamHardeningCoefficients")),
    (
        "Ring (stripe) removal",
        (
            "doFWringremoval",
            "ringMethod",
            "ringMask",
            "ringDead",
            "ringSnr",
            "ringDetectSize",
            "ringDilate",
            "ringLevel",
            "ringSigma",
            "ringWavelet",
            "doTIringremoval",
            "ringNBlock",
            "ringAlpha",
            "doSFringremoval",
            "ringSize",
        ),
    ),
    ("Tilt and 360 deg scans", ("correcttilt", "autoTilt", "tiltcenter_slice", "tiltcenter_det", "use360to180")),
    ("Phase retrieval (Paganin)", ("doPhaseRetrieval", "alphaReg", "propagation_dist", "kev")),
    (
        "Centre of rotation",
        (
            "cor",
            "corFunction",
            "voInd",
            "voSMin",
            "voSMax",
            "voSRad",
            "voStep",
            "voRatio",
            "voDrop",
            "nmInd",
            "nmInit",
            "nmTol",
            "nmMask",
            "nmRatio",
            "nmSinoOrder",
        ),
    ),
    (
        "Reconstruction",
        (
            "algorithm",
            "filter_name",
            "butterworth_cutoff",
            "butterworth_order",
            "npad",
            "num_iter",
            "nonneg",
            "relaxation",
            "tv_weight",
            "iter_tol",
            "iter_start",
        ),
    ),
    (
        "Post-processing",
        (
            "doPolarRing",
            "Rarc",
            "Rmaxwidth",
            "Rtmax",
            "Rthr",
            "Rtmin",
            "doBilateralFilter",
            "bilateral_srad",
            "bilateral_rrad",
        ),
    ),
    ("Running", ("chunk_proj", "chunk_sino", "num_threads", "memoryCheck")),
)


def parameter_help() -> str:
    """Every parameter, one line each (name, default, meaning with units), grouped by step."""
    fields = {f.name: f for f in dataclasses.fields(ReconParams)}
    grouped = [name for _, names in PARAMETER_GROUPS for name in names]
    groups = [*PARAMETER_GROUPS, ("Other", tuple(n for n in fields if n not in grouped))]
    width = max(len(n) for n in fields) + 2
    lines = []
    for title, names in groups:
        names = tuple(n for n in names if n in fields)
        if not names:
            continue
        lines += ["", f"{title}:"]
        for name in names:
            f = fields[name]
            lines.append(f"    {name:<{width}} {f.metadata['doc']} (default {f.default!r})")
    return "\n".join(lines[1:])


# --------------------------------------------------------------------- conversion
def _field(name: str) -> dataclasses.Field:
    for f in dataclasses.fields(ReconParams):
        if f.name == name:
            return f
    raise ParameterError(f"unknown parameter {name!r}{suggest_key(name)}")


def suggest_key(key: str, names: Iterable[str] | None = None) -> str:
    """A ``"; did you mean 'x'?"`` hint for a misspelled parameter name (or '')."""
    names = list(names) if names is not None else list(ReconParams.field_names())
    lowered = {n.lower(): n for n in names}
    if key.lower() in lowered:
        return f"; did you mean {lowered[key.lower()]!r}?"
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    if not close:
        close = [lowered[c] for c in difflib.get_close_matches(key.lower(), list(lowered), n=3, cutoff=0.6)]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


_ENV_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def expand_env(text: str, *, source: str | None = None) -> str:
    """Expand ``$NAME`` and ``${NAME}`` from the environment (as a shell does); ``$$`` is a ``$``.

    Raises
    ------
    ParameterError
        Naming the variable (and ``source``) when it is not set: a path list that says
        ``$SCRATCH/raw/scan.h5`` must never be read as a folder literally called ``$SCRATCH``.
    """
    import os

    def sub(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            where = f" ({source})" if source else ""
            raise ParameterError(f"environment variable ${name} in {text!r} is not set{where}")
        return os.environ[name]

    parts = text.split("$$")
    return "$".join(_ENV_VAR.sub(sub, part) for part in parts)


def parse_resume(value: Any) -> bool | None:
    """The ``resume`` policy from a Python value or text.

    ``True``/yes/1: keep the slices the earlier run's record proves; ``False``/no/0 (or
    "overwrite"): replace the earlier run; ``None``/"auto"/"none": the default (keep what the
    record proves, else compute). Anything else is a :class:`ParameterError`.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE or low == "overwrite":
            return False
        if low in _NONE or low == "auto":
            return None
    elif isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ParameterError(f"resume={value!r}: expected True (keep), False (overwrite) or None (auto)")


def parse_value(name: str, value: Any) -> Any:
    """Convert ``value`` (possibly a string) for parameter ``name`` and check it."""
    return _convert(_field(name), value)


def parse_overrides(tokens: Iterable[str], *, source: str | None = None) -> dict[str, Any]:
    """Turn ``key=value`` tokens into a dict of converted, validated values.

    Raises
    ------
    ParameterError
        Naming the token (and ``source``) when it has no ``=``, an unknown key, or a bad value.
    """
    where = f" ({source})" if source else ""
    out: dict[str, Any] = {}
    for token in tokens:
        key, sep, text = token.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"expected key=value, got {token!r}{where}")
        if key not in ReconParams.field_names():
            raise ParameterError(f"unknown parameter {key!r} in {token!r}{where}{suggest_key(key)}")
        if key in out:
            raise ParameterError(f"{key} given twice ({key}={out[key]!r} and {token!r}){where}: keep one value")
        try:
            out[key] = parse_value(key, text.strip())
        except ParameterError as exc:
            raise ParameterError(f"{exc}{where}") from None
    return out


def _convert(f: dataclasses.Field, value: Any) -> Any:
    meta = f.metadata
    name, kind = f.name, meta["kind"]
    if isinstance(value, str) and kind != "str":
        value = value.strip().strip("'\"").strip()
    if value is None or (isinstance(value, str) and value.lower() in _NONE and kind != "str"):
        if meta["optional"]:
            return None
        raise ParameterError(f"{name} must not be None (expected {kind})")
    if kind == "str" and meta["optional"] and isinstance(value, str) and value.strip().lower() in ("none", "null"):
        return None
    converter = _CONVERTERS[kind]
    result = converter(name, value, meta)
    if meta.get("filename"):
        check_file_prefix(result, name)
    if meta.get("folder") and not result.strip():  # e.g. an empty $VARIABLE: not the current folder
        raise ParameterError(f"{name}={result!r}: expected a folder (use './' for the current one)")
    if kind in ("int", "float"):
        _check_bounds(name, result, meta)
    if "choices" in meta and result not in meta["choices"]:
        hint = difflib.get_close_matches(str(result), meta["choices"], n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ParameterError(f"{name}={result!r} is not one of {list(meta['choices'])}{extra}")
    return result


def parse_switch(name: str, value: Any) -> bool | None:
    """A three-way switch such as ``recon(resume=...)``: True, False or None ("auto").

    Accepts booleans, None, 0/1 and the strings yes/no, true/false, on/off, y/n, t/f, 1/0,
    none/null/auto/empty (-> None), case-insensitive. Anything else is a ParameterError:
    ``resume="no"`` must never read as true.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().strip("'\"").strip().lower() in _NONE | {"auto"}:
        return None
    return _to_bool(name, value.strip() if isinstance(value, str) else value, {})


def _to_bool(name: str, value: Any, meta: Mapping) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    if type(value).__name__ == "bool_":  # numpy bool without importing numpy
        return bool(value)
    raise ParameterError(f"{name}={value!r}: expected a boolean (True/False, yes/no, 1/0)")


def _to_float(name: str, value: Any, meta: Mapping) -> float:
    if isinstance(value, bool):
        raise ParameterError(f"{name}={value!r}: expected a number, got a boolean")
    if isinstance(value, str) and not _NUMBER.match(value):
        raise ParameterError(f"{name}={value!r}: expected a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r}: expected a number") from None
    if not math.isfinite(out):
        raise ParameterError(f"{name}={value!r}: expected a finite number")
    return out


def _to_int(name: str, value: Any, meta: Mapping) -> int:
    number = _to_float(name, value, meta)
    if number != int(number):
        raise ParameterError(f"{name}={value!r}: expected a whole number")
    return int(number)


def _to_str(name: str, value: Any, meta: Mapping) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "__fspath__"):
        return str(value)
    if meta.get("numbers_as_text") and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a version typed as a number in a spreadsheet or TOML file
    raise ParameterError(f"{name}={value!r}: expected text")


def _split_sequence(name: str, value: Any) -> list[Any]:
    """Accept '(a, b, c)', '[a,b]', 'a,b,c', 'a b c', or any non-string iterable."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "([" and text[-1:] in ")]":
            text = text[1:-1]
        parts = [p for p in re.split(r"[,\s]+", text) if p]
        return parts
    if isinstance(value, Iterable):
        return list(value)
    raise ParameterError(f"{name}={value!r}: expected a sequence")


def _to_range(name: str, value: Any, meta: Mapping) -> tuple[int, int, int]:
    parts = _split_sequence(name, value)
    if len(parts) not in (2, 3):
        raise ParameterError(f"{name}={value!r}: expected (start, end) or (start, end, step)")
    ints = [_to_int(name, p, meta) for p in parts]
    if len(ints) == 2:
        ints.append(1)
    if ints[2] < 1:
        raise ParameterError(f"{name}={value!r}: the step must be >= 1")
    if ints[0] < -1:
        raise ParameterError(f"{name}={value!r}: start must be >= 0 (or -1 for a central range)")
    if ints[0] >= 0 and ints[1] <= ints[0]:
        raise ParameterError(f"{name}={value!r}: end must be larger than start")
    if ints[0] == -1 and ints[1] < 1:
        raise ParameterError(f"{name}={value!r}: with start -1 the second value is a row count >= 1")
    return tuple(ints)


def _to_floats(name: str, value: Any, meta: Mapping) -> tuple[float, ...]:
    items = tuple(_to_float(name, p, meta) for p in _split_sequence(name, value))
    length = meta.get("length")
    if length is not None and len(items) != length:
        raise ParameterError(f"{name}: expected {length} values, got {len(items)}")
    if not items:
        raise ParameterError(f"{name}={value!r}: expected at least one value")
    return items


def _to_ints(name: str, value: Any, meta: Mapping) -> tuple[int, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    items = tuple(_to_int(name, p, meta) for p in _split_sequence(name, value))
    if any(i < 0 for i in items):
        raise ParameterError(f"{name}={value!r}: projection indices must be >= 0")
    return items


def _to_anglelist(name: str, value: Any, meta: Mapping) -> tuple[float, ...] | int:
    if not isinstance(value, str) and not isinstance(value, Iterable):
        number = _to_float(name, value, meta)
        if number == -1:
            return -1
        raise ParameterError(
            f"{name}={value!r}: expected None, -1 (per-projection rot_angle) or one angle per projection in radians"
        )
    if isinstance(value, str) and value.strip() == "-1":
        return -1
    return _to_floats(name, value, meta)


def _check_bounds(name: str, value: float, meta: Mapping) -> None:
    hint = meta.get("hint", "")
    if "min" in meta and value < meta["min"]:
        raise ParameterError(f"{name}={value!r}: must be >= {meta['min']}{hint}")
    if "min_excl" in meta and value <= meta["min_excl"]:
        raise ParameterError(f"{name}={value!r}: must be > {meta['min_excl']}{hint}")
    if "max" in meta and value > meta["max"]:
        raise ParameterError(f"{name}={value!r}: must be <= {meta['max']}{hint}")


_CONVERTERS = {
    "bool": _to_bool,
    "float": _to_float,
    "int": _to_int,
    "str": _to_str,
    "range": _to_range,
    "floats": _to_floats,
    "ints": _to_ints,
    "anglelist": _to_anglelist,
}
