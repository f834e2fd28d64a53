"""help(recon) explains every keyword, one line each, grouped by pipeline step."""

from __future__ import annotations

import pydoc

from alsmicroct.params import PARAMETER_GROUPS, ReconParams
from alsmicroct.reconstruction import recon


def test_every_parameter_is_in_exactly_one_group():
    grouped = [name for _, names in PARAMETER_GROUPS for name in names]
    assert sorted(grouped) == sorted(ReconParams.field_names())
    assert len(grouped) == len(set(grouped))


def test_help_recon_explains_each_keyword():
    text = pydoc.render_doc(recon, renderer=pydoc.plaintext)
    assert "Keywords by step" in text and "Ring (stripe) removal:" in text
    for name in ReconParams.field_names():
        line = next(line for line in text.splitlines() if line.strip().startswith(name + " ") and "(default" in line)
        assert ReconParams.describe(name) in line
