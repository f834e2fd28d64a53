"""`SpotSession`: a robust client of the SPOT data portal (NERSC, beamline 8.3.2).

One :class:`requests.Session` carries the login cookie. Every request has a timeout;
idempotent ones are retried with exponential backoff on connection errors, timeouts and
5xx answers; an expired session (401/403, or ``{"auth": false}``) is re-authenticated
once, transparently. Errors are mapped onto :class:`~.errors.SpotError` subclasses
whose messages name the URL path only. Passwords and session ids never reach logs,
messages, reprs or URLs: they only travel in POST bodies and cookies, and never follow a
redirect to another origin (:mod:`.redirects`). Downloads are verified and resumable
across runs (:mod:`.transfer`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from .credentials import Credentials, resolve_credentials
from .errors import (
    AuthenticationError,
    NotFoundError,
    ServerError,
    SpotConnectionError,
    SpotError,
    SpotParameterError,
    SpotResponseError,
    SpotTimeoutError,
    StagingError,
    StagingTimeout,
)
from .paths import quote_path, raw_path, split_dataset
from .redirects import NoAuth, check_origins, check_url, follow_redirects
from .retry import RetryPolicy
from .transfer import prepare_folder, stream_download

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["DEFAULT_BASE_URL", "ENV_BASE_URL", "ENV_NEWT_URL", "SpotSession"]

logger = logging.getLogger(__name__)

#: Production SPOT API root.
DEFAULT_BASE_URL = "https://portal-auth.nersc.gov/als"
#: Environment variable overriding the SPOT API root.
ENV_BASE_URL = "ALSMICROCT_SPOT_URL"
#: Environment variable naming a NEWT-style auth URL (enables the two-step login).
ENV_NEWT_URL = "ALSMICROCT_NEWT_URL"

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_PENDING = ("unknown", "staging")

Timeout = float | tuple[float, float]


def _check_timeout(timeout: Timeout) -> Timeout:
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if not 1 <= len(values) <= 2 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise SpotParameterError(f"timeout must be seconds > 0, or a (connect, read) pair of them, got {timeout!r}")
    return timeout


def _short_error(resp: requests.Response) -> str:
    """A short, server-given reason for a refused request (JSON ``error`` field)."""
    try:
        payload = resp.json()
    except ValueError:
        return ""
    if isinstance(payload, dict):
        for key in ("error", "message", "detail"):
            if isinstance(payload.get(key), str):
                return f": {payload[key][:200]}"
    return ""


class SpotSession:
    """Authenticated session with the SPOT data portal.

    Parameters
    ----------
    username, password : str, optional
        Credentials; missing ones come from ``SPOT_USERNAME`` / ``SPOT_PASSWORD``, then
        ``~/.netrc`` (``machine <host of base_url>``), then a prompt when stdin is a
        terminal. A batch job without credentials gets a
        :class:`~.errors.MissingCredentialsError`.
    base_url : str, optional
        API root; default ``$ALSMICROCT_SPOT_URL`` or :data:`DEFAULT_BASE_URL`.
    newt_url : str, optional
        NEWT-style auth URL (default ``$ALSMICROCT_NEWT_URL``). When set, login is two
        steps: POST the credentials there, then POST the returned ``newt_sessionid`` as
        the password to ``<base_url>/auth``.
    timeout : float or (float, float)
        Connect and read timeout in seconds for every request.
    retries : int
        Retries of idempotent requests (and of download interruptions).
    backoff, max_backoff : float
        Exponential backoff: retry ``k`` waits ``backoff * 2**(k-1)`` s, at most
        ``max_backoff``.
    verify : bool or str
        TLS verification with the default CAs (``True``; a site's ``REQUESTS_CA_BUNDLE``
        is honoured then) or the path of a CA bundle, which the environment never
        overrides. A certificate that fails verification raises ``SpotConnectionError``
        at once (not retried). Never disable verification in production.
    login : bool
        Log in immediately (default); otherwise at the first call.
    prompt : bool
        Allow an interactive credential prompt (only when stdin is a terminal).
    progress : bool or None
        Download progress bar; ``None``: only when stderr is a terminal.
    chunk_size : int
        Download chunk in bytes.
    download_redirects : iterable of str
        Origins (``"https://data.example.org"``, ``scheme://host[:port]``) to which the
        portal may redirect a *download*. By default every redirect to another scheme,
        host or port is refused. An allowed origin gets the download request without
        the session cookie. Logins are never redirected (the password is posted only to
        the configured URL), and API calls follow redirects only within the API's origin.

    Notes
    -----
    Not thread-safe: use one session per thread. Use it as a context manager, or call
    :meth:`close`, which logs out and releases the connections.

    Examples
    --------
    >>> with SpotSession() as spot:                       # doctest: +SKIP
    ...     spot.download("20160512_092220_sample", downloadPath="raw/")
    """

    logout_endpoint = "logout"

    def __init__(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        base_url: str | None = None,
        newt_url: str | None = None,
        timeout: Timeout = (10.0, 60.0),
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        verify: bool | str = True,
        login: bool = True,
        prompt: bool = True,
        progress: bool | None = None,
        chunk_size: int = 1 << 20,
        download_redirects: Iterable[str] = (),
    ) -> None:
        self.base_url = check_url(base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL, "base_url")
        newt = newt_url or os.environ.get(ENV_NEWT_URL)
        self.newt_url = check_url(newt, "newt_url") if newt else None
        self.timeout = _check_timeout(timeout)
        try:
            self.policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        except (TypeError, ValueError) as exc:
            raise SpotParameterError(
                f"retries={retries!r}, backoff={backoff!r}, max_backoff={max_backoff!r}: {exc}"
            ) from None
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise SpotParameterError(f"chunk_size must be a positive number of bytes, got {chunk_size!r}")
        if isinstance(verify, str) and not os.path.exists(verify):
            raise SpotParameterError(
                f"verify: CA bundle {verify!r} does not exist (give the "
                "path of a PEM file, or True for the default CAs)"
            )
        self.progress = progress
        self.chunk_size = int(chunk_size)
        self.download_redirects = check_origins(download_redirects, "download_redirects")
        self.username: str | None = None
        self.authenticated = False
        self._given = (username, password)
        self._prompt = prompt
        self._credentials: Credentials | None = None
        self._closed = False
        self._verify = verify
        self._http = requests.Session()
        # Proxies from the environment are honoured, but requests must never turn a
        # ~/.netrc entry into an Authorization header: a no-op auth blocks that.
        self._http.auth = NoAuth()
        self._http.headers["User-Agent"] = "alsmicroct-spot/0.1"
        if login:
            try:
                self.authentication()
            except BaseException:
                self._http.close()
                raise

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, username={self.username!r}, "
            f"authenticated={self.authenticated}, closed={self._closed})"
        )

    def __enter__(self) -> SpotSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Log out (best effort), forget the session cookie and close the connections."""
        if self._closed:
            return
        if self.authenticated:
            try:
                resp = self._send("GET", self._url(self.logout_endpoint), retry=False)
                resp.close()
                logger.info("logged out of %s", self.base_url)
            except SpotError as exc:
                logger.info("logout from %s failed (%s); closing anyway", self.base_url, exc)
        self._http.cookies.clear()
        self._http.close()
        self.authenticated = False
        self._closed = True

    def _url(self, endpoint: str) -> str:
        return f"{self.base_url}/{endpoint}"

    # ---------------------------------------------------------------- requests
    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retry: bool | None = None,
        redirects: frozenset[str] = frozenset(),
    ) -> requests.Response:
        """One request with timeout, retries, redirect policy and error mapping.

        Returns the answer for 1xx-3xx and 401/403 (authentication is the caller's
        business); raises a :class:`SpotError` subclass for everything else. Redirects
        are followed by :meth:`_follow` (``redirects``: other origins allowed).
        """
        if self._closed:
            raise SpotError(f"{method} {urlsplit(url).path}: the session is closed")
        path = urlsplit(url).path
        what = f"{method} {path}"
        retryable = method in _IDEMPOTENT if retry is None else retry
        attempt = 0
        while True:
            retry_after = None
            try:
                resp = self._http.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    stream=stream,
                    allow_redirects=False,
                    verify=self._verify,  # explicit, so REQUESTS_CA_BUNDLE cannot override
                )
                resp = follow_redirects(
                    resp,
                    self._http,
                    method,
                    headers,
                    allowed=redirects,
                    stream=stream,
                    timeout=self.timeout,
                    verify=self._verify,
                )
            except requests.exceptions.SSLError as exc:
                # not retried: an untrusted certificate stays untrusted
                raise SpotConnectionError(
                    f"{what}: TLS verification failed, the server's certificate is not trusted "
                    "(give the site's CA bundle with verify='/path/to/ca-bundle.pem')",
                    path=path,
                ) from exc
            except requests.Timeout as exc:
                failure: SpotError = SpotTimeoutError(f"{what}: no answer within {self.timeout} s", path=path)
                cause: BaseException | None = exc
            except requests.ConnectionError as exc:
                failure = SpotConnectionError(f"{what}: connection failed", path=path)
                cause = exc
            except requests.RequestException as exc:
                raise SpotError(f"{what}: request failed ({type(exc).__name__})", path=path) from exc
            else:
                status = resp.status_code
                if status < 400 or status in (401, 403):
                    return resp
                cause = None
                if status >= 500 or status == 429:
                    retry_after = resp.headers.get("Retry-After")
                    failure = ServerError(
                        f"{what}: server error HTTP {status}{_short_error(resp)}",
                        path=path,
                        status=status,
                    )
                elif status == 404:
                    failure = NotFoundError(f"{what}: not found (HTTP 404){_short_error(resp)}", path=path, status=404)
                else:
                    failure = SpotResponseError(
                        f"{what}: refused with HTTP {status}{_short_error(resp)}",
                        path=path,
                        status=status,
                    )
                resp.close()
                if not isinstance(failure, ServerError):
                    raise failure
            if not retryable or attempt >= self.policy.retries:
                if attempt:
                    failure.args = (f"{failure.args[0]} (after {attempt + 1} attempts)",)
                raise failure from cause
            self.policy.pause(attempt, what, str(failure.args[0]).split(": ", 1)[-1], retry_after)
            attempt += 1

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        redirects: frozenset[str] = frozenset(),
    ) -> Any:
        """Authenticated API call; JSON payload (or the raw answer when ``stream``).

        Re-authenticates once when the session turns out to have expired.
        """
        self._ensure_login()
        url = self._url(endpoint)
        path = urlsplit(url).path
        for renewed in (False, True):
            resp = self._send(method, url, params=params, headers=headers, stream=stream, redirects=redirects)
            expired = resp.status_code in (401, 403)
            payload = None
            small = resp.headers.get("Content-Length", "").isdigit() and int(resp.headers["Content-Length"]) < 65536
            json_body = small and resp.headers.get("Content-Type", "").startswith("application/json")
            if not expired and (not stream or json_body):
                # a streamed JSON answer is no file: read it to see if the session expired
                try:
                    payload = self._json(resp, f"{method} {path}")
                except SpotResponseError:
                    if not stream:
                        raise
                expired = isinstance(payload, dict) and payload.get("auth") is False
            if not expired:
                return resp if stream else payload
            resp.close()
            if renewed:
                break
            logger.info("%s %s: session expired; logging in again", method, path)
            self.authentication()
        raise AuthenticationError(
            f"{method} {path}: not authorised even after logging in again",
            path=path,
            status=resp.status_code,
        )

    @staticmethod
    def _json(resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise SpotResponseError(
                f"{what}: answer is not JSON (Content-Type {resp.headers.get('Content-Type', 'none')!r})",
                path=urlsplit(resp.url).path,
                status=resp.status_code,
            ) from None

    # ---------------------------------------------------------- authentication
    def _ensure_login(self) -> None:
        if not self.authenticated:
            self.authentication()

    def _post_login(self, url: str, username: str, secret: str) -> dict[str, Any]:
        path = urlsplit(url).path
        resp = self._send("POST", url, data={"username": username, "password": secret}, retry=True)
        if resp.status_code in (401, 403):
            resp.close()
            raise AuthenticationError(
                f"POST {path}: login refused for user {username!r} (HTTP {resp.status_code})",
                path=path,
                status=resp.status_code,
            )
        payload = self._json(resp, f"POST {path}")
        if not isinstance(payload, dict) or payload.get("auth") is not True:
            raise AuthenticationError(
                f"POST {path}: login refused for user {username!r}",
                path=path,
                status=resp.status_code,
            )
        return payload

    def authentication(self) -> bool:
        """Log in (again), replacing any previous session cookie.

        Returns
        -------
        bool
            ``True``; failures raise.

        Raises
        ------
        AuthenticationError
            Wrong credentials, or the NEWT step gave no session id.
        MissingCredentialsError
            No credentials available in a batch job.
        """
        if self._credentials is None:
            host = urlsplit(self.base_url).hostname or ""
            self._credentials = resolve_credentials(*self._given, host=host, prompt=self._prompt)
            self._given = (self._given[0], None)
        creds = self._credentials
        self.authenticated = False
        self._http.cookies.clear()
        secret = creds.password
        if self.newt_url:
            payload = self._post_login(self.newt_url, creds.username, creds.password)
            secret = payload.get("newt_sessionid") or ""
            if not isinstance(secret, str) or not secret:
                raise AuthenticationError(
                    f"POST {urlsplit(self.newt_url).path}: no newt_sessionid in the answer",
                    path=urlsplit(self.newt_url).path,
                )
        self._post_login(self._url("auth"), creds.username, secret)
        self.username = creds.username
        self.authenticated = True
        logger.info("logged in to %s as %s (credentials from %s)", self.base_url, creds.username, creds.source)
        return True

    def check_authentication(self) -> bool:
        """Ask the server whether the session is still logged in.

        Returns
        -------
        bool
            The server's ``auth`` flag (``False`` on 401/403).
        """
        url = self._url("auth")
        resp = self._send("GET", url)
        if resp.status_code in (401, 403):
            resp.close()
            return False
        payload = self._json(resp, f"GET {urlsplit(url).path}")
        return isinstance(payload, dict) and payload.get("auth") is True

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: str,
        limitnum: int = 10,
        skipnum: int = 0,
        sortterm: str = "fs.stage_date",
        sorttype: str = "desc",
        *,
        end_station: str | None = None,
    ) -> list[dict[str, Any]]:
        """One page of datasets matching a query.

        Parameters
        ----------
        query : str
            SPOT search text (e.g. a name fragment, ``"end_station=bl832"``).
        limitnum : int
            Page size (>= 1).
        skipnum : int
            Records to skip (>= 0).
        sortterm : str
            Sort key, e.g. ``"fs.stage_date"``.
        sorttype : {"desc", "asc"}
        end_station : str, optional
            Restrict to one end station.

        Returns
        -------
        list of dict
            Dataset records as the server sends them.
        """
        if sorttype not in ("asc", "desc"):
            raise SpotParameterError(f"sorttype must be 'asc' or 'desc', got {sorttype!r}")
        if int(limitnum) < 1 or int(skipnum) < 0:
            raise SpotParameterError(f"limitnum must be >= 1 and skipnum >= 0, got {limitnum} and {skipnum}")
        params: dict[str, Any] = {
            "search": query,
            "limitnum": int(limitnum),
            "skipnum": int(skipnum),
            "sortterm": sortterm,
            "sorttype": sorttype,
        }
        if end_station:
            params["end_station"] = end_station
        payload = self._call("GET", "hdf/search", params=params)
        return self._expect_list(payload, "GET hdf/search")

    def iter_search(
        self, query: str, *, page_size: int = 100, max_results: int | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        """Iterate over all matching records, fetching one page at a time.

        The iteration ends at the first empty page (or after ``max_results``).

        Parameters
        ----------
        query : str
            As for :meth:`search`.
        page_size : int
            Records per request.
        max_results : int, optional
            Stop after this many records.
        **options
            ``sortterm``, ``sorttype``, ``end_station`` as for :meth:`search`.

        Yields
        ------
        dict
            Dataset records in server order.
        """
        skip, seen, previous_first = 0, 0, None
        while max_results is None or seen < max_results:
            page = self.search(query, limitnum=page_size, skipnum=skip, **options)
            if not page:
                return
            if skip and page[0] == previous_first:
                raise SpotResponseError("GET hdf/search: the server ignores skipnum (same page twice)")
            previous_first = page[0]
            for record in page:
                if max_results is not None and seen >= max_results:
                    return
                seen += 1
                yield record
            # Only an empty page ends the loop: a server that caps the page size below
            # ``page_size`` must not cut the listing short (one extra request at the end).
            skip += len(page)

    @staticmethod
    def _expect_list(payload: Any, what: str) -> list[Any]:
        if not isinstance(payload, list):
            raise SpotResponseError(f"{what}: expected a JSON list, got {type(payload).__name__}")
        return payload

    # ---------------------------------------------------------------- datasets
    def raw_path(self, dataset: str, username: str | None = None) -> str:
        """Quoted SPOT path ``als/bl832/<owner>/<name>/raw/<name>.h5`` of a dataset.

        Parameters
        ----------
        dataset : str
            ``"name"``, ``"name.h5"``, ``"owner/name"`` or ``"owner/name.h5"``.
        username : str, optional
            Owner; default the ``owner/`` prefix, else the logged-in user.
        """
        owner, name = split_dataset(dataset, username)
        if owner is None:
            self._ensure_login()
            owner = self.username
        return quote_path(raw_path(owner or "", name))

    def derived_datasets(self, dataset: str) -> list[dict[str, Any]]:
        """Records of a dataset and its derived stages (``stage``, ``path``, ``phyloc``).

        Parameters
        ----------
        dataset : str
            Dataset name (an ``owner/`` prefix and ``.h5`` suffix are ignored).
        """
        name = split_dataset(dataset)[1]
        payload = self._call("GET", "hdf/dataset", params={"dataset": name})
        return self._expect_list(payload, "GET hdf/dataset")

    def attributes(self, dataset: str, username: str | None = None, group: str = "/") -> dict[str, Any]:
        """HDF5 attributes of a group (or image) of a raw dataset.

        String values lose the trailing ``"\\r"``/newline the beamline writes.

        Parameters
        ----------
        dataset : str
            Dataset name.
        username : str, optional
            Owner (default: ``owner/`` prefix or logged-in user).
        group : str
            HDF5 path inside the file, ``"/"`` for the top level.
        """
        payload = self._call("GET", f"hdf/attributes/{self.raw_path(dataset, username)}", params={"group": group})
        if not isinstance(payload, dict):
            raise SpotResponseError("GET hdf/attributes: expected a JSON object")
        return {k: v.rstrip("\r\n") if isinstance(v, str) else v for k, v in payload.items()}

    def list_images(self, dataset: str, username: str | None = None) -> list[str]:
        """HDF5 paths of the images of a raw dataset."""
        payload = self._call("GET", f"hdf/listimages/{self.raw_path(dataset, username)}")
        return [str(p) for p in self._expect_list(payload, "GET hdf/listimages")]

    def image(self, dataset: str, image_name: str, username: str | None = None) -> np.ndarray:
        """One image of a raw dataset as a NumPy array.

        Parameters
        ----------
        dataset : str
            Dataset name.
        image_name : str
            Image name inside the dataset group, or a full HDF5 path as returned by
            :meth:`list_images`.
        username : str, optional
            Owner.
        """
        import numpy as np

        name = split_dataset(dataset, username)[1]
        group = image_name if image_name.startswith("/") else f"/{name}/{image_name}"
        payload = self._call("GET", f"hdf/rawdata/{self.raw_path(dataset, username)}", params={"group": group})
        if not isinstance(payload, dict) or "data" not in payload:
            raise SpotResponseError("GET hdf/rawdata: answer has no 'data'")
        try:
            array = np.asarray(payload["data"], dtype=payload.get("dtype"))
        except (TypeError, ValueError) as exc:
            raise SpotResponseError(f"GET hdf/rawdata: unusable image data ({exc})") from None
        shape = payload.get("shape")
        if shape is not None and list(array.shape) != list(shape):
            raise SpotResponseError(
                f"GET hdf/rawdata: image {group!r} has shape {list(array.shape)} but the answer announces {shape}"
            )
        return array

    def stage(
        self,
        dataset: str,
        username: str | None = None,
        wait: bool = True,
        poll_interval: float = 3.0,
        timeout: float = 3600.0,
    ) -> dict[str, Any]:
        """Ask for a dataset to be staged from tape to disk, and wait for it.

        Parameters
        ----------
        dataset : str
            Dataset name.
        username : str, optional
            Owner.
        wait : bool
            Poll until ``location`` is neither ``"unknown"`` nor ``"staging"``.
        poll_interval : float
            Seconds between polls.
        timeout : float
            Give up after this many seconds.

        Returns
        -------
        dict
            The last answer; ``answer["location"]`` is the file's path on disk once staged.

        Raises
        ------
        StagingTimeout
            Still not on disk after ``timeout`` seconds.
        """
        endpoint = f"hdf/stageifneeded/{self.raw_path(dataset, username)}"
        deadline = time.monotonic() + timeout
        while True:
            answer = self._call("GET", endpoint)
            if not isinstance(answer, dict) or "location" not in answer:
                raise SpotResponseError(f"GET {endpoint}: answer has no 'location'")
            location = answer["location"]
            if location not in _PENDING and not (isinstance(location, str) and location.startswith("/")):
                raise StagingError(
                    f"GET {self._path(endpoint)}: staging of {dataset!r} failed: location "
                    f"{location!r} is neither a path on disk nor pending (status "
                    f"{answer.get('status')!r})",
                    path=self._path(endpoint),
                )
            if location not in _PENDING or not wait:
                return answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StagingTimeout(
                    f"GET {self._path(endpoint)}: still {location!r} after {timeout} s",
                    path=self._path(endpoint),
                )
            logger.info("%s is %s; next check in %.3g s", dataset, location, poll_interval)
            time.sleep(min(poll_interval, remaining))

    def _path(self, endpoint: str) -> str:
        return urlsplit(self._url(endpoint)).path

    def download(
        self,
        dataset: str,
        username: str | None = None,
        downloadPath: str | os.PathLike[str] = ".",
        downloadName: str | None = None,
        *,
        stage_timeout: float = 3600.0,
        poll_interval: float = 3.0,
        progress: bool | None = None,
        overwrite: bool = False,
    ) -> str:
        """Stage (if needed) and download a raw dataset, verified and resumable.

        The file is streamed to ``<downloadPath>/.<file>.part`` and renamed to
        ``<downloadPath>/<downloadName or name>.h5`` only when verified (exact size
        announced by the server, not empty, not encoded, not an error page, HDF5
        signature). Interruptions are resumed with HTTP Range requests guarded by
        ``If-Range``, in this call or -- after a crash or a failed call -- in the next
        one, which continues the partial file; a remote file that changed meanwhile is
        downloaded again from the start. An existing complete ``.h5`` (same size as the
        remote file, HDF5) is skipped without downloading it again.

        Parameters
        ----------
        dataset : str
            Dataset name.
        username : str, optional
            Owner.
        downloadPath : str or path-like
            Destination folder (created if needed).
        downloadName : str, optional
            File name without ``.h5`` (default: the dataset name).
        stage_timeout, poll_interval : float
            Passed to :meth:`stage`.
        progress : bool or None
            Progress bar; default the session's setting.
        overwrite : bool
            Replace an existing file that differs from the remote one (different size,
            or not HDF5); without it that is a :class:`~.errors.DownloadError`.

        Returns
        -------
        str
            Path of the downloaded (or already complete) file.

        Raises
        ------
        DownloadError
            Unwritable folder, interrupted too often (the partial file is kept for the
            next call), size mismatch, no announced size, an encoded body or an error
            page instead of data, not HDF5, a different existing file without
            ``overwrite``, or another process downloading the same file.
        SpotResponseError
            A redirect to an origin not in ``download_redirects``.
        """
        name = split_dataset(dataset, username)[1]
        out_name = name
        if downloadName:
            folder_part, out_name = split_dataset(downloadName)
            if folder_part is not None:
                raise SpotParameterError(
                    f"downloadName {downloadName!r} must be a file name; put folders in downloadPath"
                )
        folder = prepare_folder(downloadPath)  # fail before a long staging, not after
        self.stage(dataset, username, poll_interval=poll_interval, timeout=stage_timeout)
        endpoint = f"hdf/download/{self.raw_path(dataset, username)}"
        target = folder / f"{out_name}.h5"
        stream_download(
            lambda headers: self._call(
                "GET", endpoint, headers=headers, stream=True, redirects=self.download_redirects
            ),
            target,
            url_path=self._path(endpoint),
            policy=self.policy,
            chunk_size=self.chunk_size,
            progress=self.progress if progress is None else progress,
            label=name,
            overwrite=overwrite,
        )
        return str(target)
