"""Compatibility package (one release): the console programs moved to :mod:`alsmicroct.cli`."""
