"""Exception tree of the SPOT client.

Every error raised on purpose by :mod:`alsmicroct.data_management` derives from
:class:`SpotError`, itself an :class:`alsmicroct.errors.AlsMicroCTError`. Each error
carries the URL *path* it concerns (never the query string with secrets, never
passwords, session ids or cookies) and, where there was an HTTP answer, its status code.
"""

from __future__ import annotations

import builtins

from ..errors import AlsMicroCTError, ParameterError

__all__ = [
    "AuthenticationError",
    "DownloadError",
    "MissingCredentialsError",
    "NotFoundError",
    "ServerError",
    "SizeMismatchError",
    "SpotConnectionError",
    "SpotError",
    "SpotParameterError",
    "SpotResponseError",
    "SpotTimeoutError",
    "StagingError",
    "StagingTimeout",
    "UnexpectedContentError",
]


class SpotError(AlsMicroCTError):
    """Root of every error of the SPOT client.

    Parameters
    ----------
    message : str
        Human readable text; it names the URL path concerned.
    path : str, optional
        URL path of the request (no query string, no credentials).
    status : int, optional
        HTTP status code of the answer, when there was one.
    """

    def __init__(self, message: str, *, path: str | None = None, status: int | None = None):
        super().__init__(message)
        self.path = path
        self.status = status


class AuthenticationError(SpotError):
    """Login refused, or the session could not be re-established."""


class MissingCredentialsError(AuthenticationError):
    """No credentials were given and none can be asked for (batch job)."""


class NotFoundError(SpotError, LookupError):
    """The server answered 404: unknown dataset, image or endpoint."""


class ServerError(SpotError):
    """The server kept answering 5xx after all retries."""


class SpotConnectionError(SpotError, builtins.ConnectionError):
    """The server could not be reached (or dropped the connection) after all retries."""


class SpotTimeoutError(SpotError, builtins.TimeoutError):
    """No answer within the configured timeout, after all retries."""


class StagingError(SpotError):
    """Staging a dataset from tape to disk failed."""


class StagingTimeout(StagingError, SpotTimeoutError):
    """A dataset was still on its way from tape when the staging timeout ran out."""


class DownloadError(SpotError):
    """A download could not be completed or verified; no unverified ``.h5`` is written.

    After an interruption the hidden partial file (``.<name>.h5.part``) is kept, so the
    next download of the same file resumes it; bytes that failed verification are removed.
    """


class SizeMismatchError(DownloadError):
    """The bytes received do not match the size announced by the server."""


class UnexpectedContentError(DownloadError):
    """The server sent an HTML or JSON (error) page instead of the HDF5 file."""


class SpotResponseError(SpotError):
    """Any other refused request (4xx), or an answer that is not what the API promises."""


class SpotParameterError(SpotError, ParameterError):
    """A dataset name, owner or option given to the client is invalid."""


# ``TimeoutError`` alias asked for by the API; deliberately not in ``__all__`` so that a
# star import never shadows the builtin.
TimeoutError = SpotTimeoutError
