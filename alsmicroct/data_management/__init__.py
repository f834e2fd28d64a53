"""SPOT data portal client, NERSC archive helpers and the ``alsmicroct-spot`` CLI.

Importing this package is light: it pulls in :mod:`requests` but never NumPy, h5py or
the reconstruction stack (NumPy is imported only by :meth:`SpotSession.image`).

>>> from alsmicroct.data_management import SpotSession          # doctest: +SKIP
>>> with SpotSession() as spot:                                   # doctest: +SKIP
...     for rec in spot.iter_search("end_station=bl832"):
...         print(rec["name"])
"""

from __future__ import annotations

from . import errors
from .credentials import ENV_PASSWORD, ENV_USERNAME, Credentials, resolve_credentials
from .errors import *  # noqa: F403  (the exception tree, listed in errors.__all__)
from .errors import SpotTimeoutError
from .paths import (
    NERSC_DEFAULT_ARCHIVE,
    NERSC_ArchivePath,
    NERSC_RetrieveData,
    quote_path,
    raw_path,
    read_path_list,
    split_dataset,
)
from .retry import RetryPolicy
from .session import DEFAULT_BASE_URL, ENV_BASE_URL, ENV_NEWT_URL, SpotSession

# ``TimeoutError`` (alias of SpotTimeoutError) is importable by name but kept out of
# ``__all__`` so ``from alsmicroct.data_management import *`` never shadows the builtin.
__all__ = [
    "SpotSession",
    "DEFAULT_BASE_URL",
    "ENV_BASE_URL",
    "ENV_NEWT_URL",
    "ENV_USERNAME",
    "ENV_PASSWORD",
    "Credentials",
    "resolve_credentials",
    "RetryPolicy",
    "NERSC_DEFAULT_ARCHIVE",
    "NERSC_ArchivePath",
    "NERSC_RetrieveData",
    "split_dataset",
    "raw_path",
    "quote_path",
    "read_path_list",
    *errors.__all__,
]

TimeoutError = SpotTimeoutError
