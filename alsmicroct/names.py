"""The names a choice parameter may take, defined once (the bottom layer, no imports).

:class:`alsmicroct.params.ReconParams` validates its choice fields against these tuples,
and the stage that acts on a name (the gridrec filter, the volume writer, the iterative
solver, the command lines' ``choices=``) uses the same tuple, so a name added here is
accepted everywhere at once and a name removed is refused everywhere at once.
``tests/test_names.py`` checks that each stage's own table covers exactly these names.

Examples
--------
>>> from alsmicroct.names import FILTER_NAMES, OUTPUT_FORMATS
>>> FILTER_NAMES[0], OUTPUT_FORMATS
('butterworth', ('tiff', 'zarr', 'h5'))
"""

from __future__ import annotations

__all__ = [
    "ALGORITHMS",
    "CENTER_METHODS",
    "DIRECT_ALGORITHMS",
    "FILTER_NAMES",
    "ITERATIVE_ALGORITHMS",
    "ITERATIVE_STARTS",
    "MEMORY_CHECKS",
    "NGFF_VERSIONS",
    "OUTPUT_FORMATS",
    "RING_METHODS",
]

#: Gridrec / FBP filters (TomoPy's gridrec family; meanings in :mod:`alsmicroct.engine.filters`).
FILTER_NAMES: tuple[str, ...] = ("butterworth", "shepp", "hann", "hamming", "parzen", "ramlak", "none")

#: Direct (one-pass) reconstruction algorithms (:func:`alsmicroct.engine.reconstruct`).
DIRECT_ALGORITHMS: tuple[str, ...] = ("gridrec", "fbp")

#: Iterative algorithms (:func:`alsmicroct.engine.reconstruct_iterative`).
ITERATIVE_ALGORITHMS: tuple[str, ...] = ("sirt", "cgls", "tv")

#: Every value of ``ReconParams.algorithm``.
ALGORITHMS: tuple[str, ...] = DIRECT_ALGORITHMS + ITERATIVE_ALGORITHMS

#: Starting images of the iterative algorithms (``ReconParams.iter_start``).
ITERATIVE_STARTS: tuple[str, ...] = ("zero", "gridrec", "ramp")

#: Ring (stripe) removal methods of ``ReconParams.ringMethod``; each is one step of
#: :data:`alsmicroct.pipeline.steps.STEPS`.
RING_METHODS: tuple[str, ...] = ("fw", "ti", "sf", "sorting", "large", "dead", "all")

#: Automatic centre-finding methods (``ReconParams.corFunction``).
CENTER_METHODS: tuple[str, ...] = ("pc", "vo", "nm")

#: OME-Zarr (NGFF) versions of ``ReconParams.ngffVersion`` (0.5: Zarr v3, 0.4: Zarr v2).
NGFF_VERSIONS: tuple[str, ...] = ("0.5", "0.4")

#: Volume output formats (``ReconParams.outputFormat``; writers in :mod:`alsmicroct.io.volumes`).
OUTPUT_FORMATS: tuple[str, ...] = ("tiff", "zarr", "h5")

#: What a local run does when one block would not fit the free memory (``ReconParams.memoryCheck``;
#: :func:`alsmicroct.memory.check_memory`): run in smaller blocks, refuse, warn, or not check.
MEMORY_CHECKS: tuple[str, ...] = ("fit", "error", "warn", "off")
