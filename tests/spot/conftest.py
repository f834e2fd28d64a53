"""Shared fixtures of the SPOT client tests: a catalogue, a real HTTP server on 127.0.0.1, a
logged-in session.

Each test module configures them with module-level names (or those of a set-up module it
imports as ``SETUP``):

- ``USERS`` (required): ``{user: password}``; the first user logs in for ``spot``;
- ``FAST``: ``SpotSession`` options (timeouts, retries) shared by the module;
- ``CATALOGUE``: ``{user: [scan names]}`` (default ``{"alice": ["scan_a"]}``) and
  ``CATALOGUE_OPTIONS`` for :func:`alsmicroct.testing.make_catalogue` (image sizes);
- ``extend_catalogue(root)``: a function adding files after the catalogue is made;
- ``SERVER_OPTIONS`` for :class:`alsmicroct.testing.SpotServer`, ``SESSION_OPTIONS`` for
  :class:`alsmicroct.data_management.SpotSession`.

A module that needs another scope or set-up defines its own fixture of the same name.
"""

from __future__ import annotations

import pytest

from alsmicroct.data_management import SpotSession
from alsmicroct.testing import SpotServer, make_catalogue


def _option(request, name: str, default):
    """The module's ``name``, else that of the set-up module it names ``SETUP``, else ``default``."""
    module = request.module
    if hasattr(module, name):
        return getattr(module, name)
    return getattr(getattr(module, "SETUP", None), name, default)


@pytest.fixture(scope="module")
def root(request, tmp_path_factory):
    catalogue = _option(request, "CATALOGUE", {"alice": ["scan_a"]})
    folder = make_catalogue(tmp_path_factory.mktemp("spot"), catalogue, **_option(request, "CATALOGUE_OPTIONS", {}))
    extend = _option(request, "extend_catalogue", None)
    if extend is not None:
        extend(folder)
    return folder


@pytest.fixture
def server(request, root):
    with SpotServer(root, users=_option(request, "USERS", None), **_option(request, "SERVER_OPTIONS", {})) as srv:
        yield srv


@pytest.fixture
def spot(request, server):
    user, password = next(iter(_option(request, "USERS", None).items()))
    options = {**_option(request, "FAST", {}), **_option(request, "SESSION_OPTIONS", {})}
    with SpotSession(user, password, base_url=server.base_url, **options) as session:
        yield session
