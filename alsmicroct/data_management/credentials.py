"""Where SPOT credentials come from.

Order: explicit arguments, the environment (``SPOT_USERNAME`` / ``SPOT_PASSWORD``), the
netrc file (``$NETRC`` or ``~/.netrc``, entry ``machine <host of the base URL>``), then an
interactive prompt, but only when standard input is a terminal. A batch job with no
credentials gets a :class:`MissingCredentialsError` that says how to provide them.
"""

from __future__ import annotations

import getpass
import logging
import netrc
import os
import shlex
import stat
import sys
from dataclasses import dataclass, field

from .errors import MissingCredentialsError

__all__ = ["ENV_PASSWORD", "ENV_USERNAME", "Credentials", "resolve_credentials"]

logger = logging.getLogger(__name__)

#: Environment variable holding the SPOT (NERSC) user name.
ENV_USERNAME = "SPOT_USERNAME"
#: Environment variable holding the SPOT (NERSC) password.
ENV_PASSWORD = "SPOT_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """A user name and password; the password never shows in ``repr``.

    Attributes
    ----------
    username : str
    password : str
    source : str
        Where they came from (``"arguments"``, ``"environment"``, ``"netrc"``,
        ``"prompt"``), for log messages.
    """

    username: str
    password: str = field(repr=False)
    source: str = "arguments"


def _netrc_path() -> str:
    return os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")


def _warn_if_exposed(path: str) -> None:
    """Warn, as ``ssh`` does for its keys, when others can read the netrc file."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        logger.warning(
            "permissions %04o for netrc file %r are too open: it holds your SPOT password "
            "and is readable or writable by group/others; run: chmod 600 %s",
            mode,
            path,
            shlex.quote(path),
        )


def _from_netrc(host: str, username: str | None) -> Credentials | None:
    path = _netrc_path()
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except netrc.NetrcParseError as exc:
        # The parser's message may quote a token of the file (possibly a password):
        # report only the file and line.
        raise MissingCredentialsError(
            f"cannot use netrc file {exc.filename or path!r}: syntax error at line "
            f"{exc.lineno} (expected 'machine <host> login <user> password <password>')"
        ) from None
    except UnicodeDecodeError:
        raise MissingCredentialsError(f"cannot use netrc file {path!r}: it is not UTF-8 text") from None
    except OSError as exc:
        logger.warning("cannot read netrc file %s: %s", path, exc.strerror)
        return None
    if entry is None:
        return None
    _warn_if_exposed(path)
    login, _account, password = entry
    missing = [what for what, value in (("login", login), ("password", password)) if not value]
    if missing:
        raise MissingCredentialsError(
            f"netrc file {path!r}: the entry for machine {host} has no {' and no '.join(missing)}"
            f" (expected 'machine {host} login <user> password <password>')"
        )
    if username is not None and login != username:
        return None
    return Credentials(login, password, "netrc")


def resolve_credentials(username: str | None, password: str | None, *, host: str, prompt: bool = True) -> Credentials:
    """Find the credentials for a SPOT server.

    Parameters
    ----------
    username, password : str or None
        Explicit values; a missing one is looked up in the other sources.
    host : str
        Host name of the SPOT server, used as the netrc ``machine``.
    prompt : bool
        Allow the interactive prompt (only ever used when standard input is a terminal).

    Returns
    -------
    Credentials

    Raises
    ------
    MissingCredentialsError
        Nothing found and standard input is not a terminal.
    """
    env_user = os.environ.get(ENV_USERNAME) or None
    env_password = os.environ.get(ENV_PASSWORD) or None
    user = username or env_user
    if user and password:
        return Credentials(user, password, "arguments")
    if user and env_password and (username is None or env_user in (None, username)):
        return Credentials(user, env_password, "environment")
    found = _from_netrc(host, user)
    if found is not None:
        return found
    if prompt and sys.stdin is not None and sys.stdin.isatty():
        if not user:
            user = input(f"SPOT username for {host}: ").strip()
        secret = password or getpass.getpass(f"SPOT password for {user}@{host}: ")
        if user and secret:
            return Credentials(user, secret, "prompt")
    raise MissingCredentialsError(
        f"no SPOT credentials for {host}: pass username/password, set {ENV_USERNAME} and "
        f"{ENV_PASSWORD}, or add 'machine {host} login <user> password <password>' to "
        "~/.netrc (mode 600); no interactive prompt in a batch job"
    )
