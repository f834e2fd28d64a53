"""URL checks and the redirect policy of the SPOT client: credentials stay on their host.

requests follows redirects by itself, and a ``307``/``308`` answer to a login would make
it post the password again to wherever ``Location`` points. The client therefore sends
every request with ``allow_redirects=False`` and lets :func:`follow_redirects` decide:

- a non-idempotent request (the login POST) is never redirected;
- a GET follows a redirect within its own origin (scheme, host and port), with the
  session cookie;
- a GET follows a redirect to an origin the caller allowed (``download_redirects``) in a
  fresh session, so that no cookie, ``Authorization`` header or netrc password goes
  there;
- anything else (another host or port, ``https`` to ``http``) is refused with an error
  that names the target and the option to allow it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.auth

from .errors import AuthenticationError, SpotParameterError, SpotResponseError

__all__ = ["NoAuth", "check_origins", "check_url", "follow_redirects", "origin"]

logger = logging.getLogger(__name__)

#: Redirect hops followed at most.
MAX_REDIRECTS = 5

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class NoAuth(requests.auth.AuthBase):
    """Leaves requests untouched (disables requests' implicit netrc Basic auth)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def check_url(url: str, what: str) -> str:
    """An http(s) URL without credentials, query or fragment, without trailing ``/``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpotParameterError(f"{what} must be an http(s) URL, got {parts.scheme!r} scheme")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SpotParameterError(f"{what} must not contain credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        logger.warning(
            "%s %s uses plain http: the SPOT password and session cookie would travel unencrypted; use https",
            what,
            _where(url),
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower case, with the default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def check_origins(origins: str | Iterable[str], what: str) -> frozenset[str]:
    """Normalise a list of allowed origins (``"https://data.example.org[:port]"``).

    Raises
    ------
    SpotParameterError
        An entry is not an http(s) origin (a path, query or credentials are refused).
    """
    if isinstance(origins, str):
        origins = [origins]
    allowed = set()
    for entry in origins:
        parts = urlsplit(str(entry))
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path.strip("/")
            or parts.query
            or parts.username
            or parts.password
        ):
            raise SpotParameterError(
                f"{what}: {entry!r} is not an origin such as 'https://data.example.org' "
                "(scheme and host, optional port, nothing else)"
            )
        allowed.add(origin(str(entry)))
    return frozenset(allowed)


def _where(url: str) -> str:
    """A URL for messages: scheme, host, port and path (no query, no user info)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def follow_redirects(
    resp: requests.Response,
    http: requests.Session,
    method: str,
    headers: Mapping[str, str] | None,
    *,
    allowed: frozenset[str],
    **send: Any,
) -> requests.Response:
    """Follow the redirects of an answer sent with ``allow_redirects=False``.

    Parameters
    ----------
    resp : requests.Response
        The first answer.
    http : requests.Session
        The authenticated session (used for same-origin hops only).
    method : str
        Method of the request.
    headers : mapping, optional
        Extra headers of the request (e.g. ``Range``), sent again on each hop.
    allowed : frozenset of str
        Other origins (as made by :func:`check_origins`) a GET may be redirected to.
    **send
        ``timeout``, ``verify`` and ``stream`` for the next requests.

    Returns
    -------
    requests.Response
        The first answer that is not a redirect.

    Raises
    ------
    AuthenticationError
        A login (any non-idempotent request) was redirected.
    SpotResponseError
        A redirect to an origin that is neither the request's nor allowed, or too many.
    """
    start = resp.request.url or ""
    path = urlsplit(start).path
    what = f"{method} {path}"
    for _hop in range(MAX_REDIRECTS + 1):
        if not resp.is_redirect:
            return resp
        target = urljoin(resp.url, resp.headers["Location"])
        status = resp.status_code
        resp.close()
        if method not in _IDEMPOTENT:
            raise AuthenticationError(
                f"{what}: the server answered HTTP {status} with a redirect to "
                f"{_where(target)}; refused: a login is never redirected, so the password "
                f"goes only to {_where(start)} (if the portal moved, set base_url or "
                "ALSMICROCT_SPOT_URL to its new address)",
                path=path,
                status=status,
            )
        if origin(target) == origin(start):
            sender = http.request
        elif origin(target) in allowed:
            sender = requests.request  # a fresh session: none of our cookies goes there
        else:
            raise SpotResponseError(
                f"{what}: the server answered HTTP {status} with a redirect to "
                f"{_where(target)}, another scheme, host or port; refused (API calls follow "
                "redirects only within the API's origin; allow a download host with "
                "SpotSession(download_redirects=['scheme://host[:port]']))",
                path=path,
                status=status,
            )
        logger.info("%s: following a redirect (HTTP %d) to %s", what, status, _where(target))
        resp = sender(method, target, headers=headers, allow_redirects=False, auth=NoAuth(), **send)
    resp.close()
    raise SpotResponseError(f"{what}: more than {MAX_REDIRECTS} redirects", path=path)
