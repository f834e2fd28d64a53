"""Each choice parameter's names are defined once (alsmicroct.names) and every stage that
acts on a name covers exactly that set: a name added in one place only fails here."""

from __future__ import annotations

import dataclasses

import pytest

from alsmicroct import names
from alsmicroct.engine import FILTER_NAMES, filter_response
from alsmicroct.engine import iterative as it
from alsmicroct.errors import ParameterError
from alsmicroct.io import volumes
from alsmicroct.params import ReconParams
from alsmicroct.pipeline import steps


def _choices(field_name: str) -> tuple[str, ...]:
    field = next(f for f in dataclasses.fields(ReconParams) if f.name == field_name)
    return tuple(field.metadata["choices"])


@pytest.mark.parametrize(
    ("field_name", "vocabulary"),
    [
        ("filter_name", names.FILTER_NAMES),
        ("algorithm", names.ALGORITHMS),
        ("iter_start", names.ITERATIVE_STARTS),
        ("ringMethod", names.RING_METHODS),
        ("corFunction", names.CENTER_METHODS),
        ("outputFormat", names.OUTPUT_FORMATS),
        ("ngffVersion", names.NGFF_VERSIONS),
    ],
)
def test_params_choices_are_the_shared_names(field_name, vocabulary):
    assert _choices(field_name) is vocabulary


def test_engine_filters_are_the_shared_names():
    assert FILTER_NAMES is names.FILTER_NAMES
    for name in names.FILTER_NAMES:
        assert filter_response(name, 64).shape[-1] > 0
    with pytest.raises(ParameterError, match="not a known filter"):
        filter_response("gauss", 64)


def test_iterative_solver_tables_cover_the_shared_names():
    assert set(it.ALGORITHMS) == set(names.ITERATIVE_ALGORITHMS)
    assert set(it.DEFAULTS) == set(names.ITERATIVE_ALGORITHMS)
    assert set(it._STARTS) == set(names.ITERATIVE_STARTS)
    assert set(names.ALGORITHMS) == set(names.DIRECT_ALGORITHMS) | set(names.ITERATIVE_ALGORITHMS)


def test_every_ring_method_switches_on_one_stripe_step():
    off = set(steps.enabled_step_names(ReconParams(doFWringremoval=False)))
    seen = {}
    for method in names.RING_METHODS:
        on = set(steps.enabled_step_names(ReconParams(doFWringremoval=True, ringMethod=method)))
        stripe = {s for s in on - off if s.startswith("stripes_")}
        assert stripe, f"ringMethod={method!r} switches on no stripe step"
        seen[method] = frozenset(stripe)
    assert len(set(seen.values())) == len(names.RING_METHODS), seen


def test_volume_writers_cover_the_shared_formats():
    assert volumes.FORMATS is names.OUTPUT_FORMATS
    with pytest.raises(ParameterError, match="did you mean 'zarr'"):
        ReconParams(outputFormat="zar")
