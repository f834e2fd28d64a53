"""Orchestration behind :func:`alsmicroct.reconstruction.recon`: planning, steps, streaming
execution, centre finding and provenance. Internal; the public face is
:mod:`alsmicroct.reconstruction`."""
