"""Dataset names, SPOT URL paths and NERSC archive helpers.

A SPOT raw dataset lives at ``als/bl832/<owner>/<dataset>/raw/<dataset>.h5``. Users
write dataset names in several ways (``"scan"``, ``"scan.h5"``, ``"owner/scan.h5"``);
:func:`split_dataset` normalises them, and :func:`raw_path` / :func:`quote_path` build
the URL path with every component percent-encoded.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from ..errors import InputFileError, OutputError
from .errors import SpotParameterError

__all__ = [
    "NERSC_DEFAULT_ARCHIVE",
    "NERSC_ArchivePath",
    "NERSC_RetrieveData",
    "quote_path",
    "raw_path",
    "read_path_list",
    "split_dataset",
]

logger = logging.getLogger(__name__)

#: Root of the beamline 8.3.2 raw-data warehouse on the NERSC community file system.
NERSC_DEFAULT_ARCHIVE = "/global/cfs/cdirs/als/spade/warehouse/als/bl832"

_H5_SUFFIX = ".h5"


def _check_component(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise SpotParameterError(f"{what} must be a string, got {type(value).__name__}")
    if value in ("", ".", ".."):
        raise SpotParameterError(f"{what} {value!r} is not a valid name")
    if "/" in value or "\\" in value or any(ord(c) < 32 for c in value):
        raise SpotParameterError(f"{what} {value!r} contains a path separator or control character")
    return value


def split_dataset(dataset: str, owner: str | None = None) -> tuple[str | None, str]:
    """Split a user-written dataset name into ``(owner, name)``.

    Parameters
    ----------
    dataset : str
        ``"name"``, ``"name.h5"``, ``"owner/name"`` or ``"owner/name.h5"``. Only a final
        ``".h5"`` suffix is removed (``"scan_h5"`` stays ``"scan_h5"``).
    owner : str, optional
        Owner given separately; must agree with an ``"owner/"`` prefix if both are given.

    Returns
    -------
    tuple of (str or None, str)
        The owner (``None`` when neither source gives one) and the bare dataset name.

    Raises
    ------
    SpotParameterError
        Empty or malformed names, more than one ``/``, or conflicting owners.
    """
    if not isinstance(dataset, str):
        raise SpotParameterError(f"dataset must be a string, got {type(dataset).__name__}")
    text = dataset.strip()
    parts = text.split("/")
    if len(parts) > 2:
        raise SpotParameterError(f"dataset {dataset!r}: expected 'name' or 'owner/name', not a longer path")
    prefix = parts[0] if len(parts) == 2 else None
    name = parts[-1]
    if name.endswith(_H5_SUFFIX):
        name = name[: -len(_H5_SUFFIX)]
    _check_component(name, "dataset name")
    if prefix is not None:
        _check_component(prefix, "dataset owner")
        if owner is not None and owner != prefix:
            raise SpotParameterError(f"dataset {dataset!r} names owner {prefix!r} but username={owner!r} was given")
        owner = prefix
    if owner is not None:
        _check_component(owner, "owner")
    return owner, name


def raw_path(owner: str, name: str) -> tuple[str, ...]:
    """Components of the SPOT path of a raw dataset.

    Returns
    -------
    tuple of str
        ``("als", "bl832", owner, name, "raw", name + ".h5")`` (not quoted).
    """
    _check_component(owner, "owner")
    _check_component(name, "dataset name")
    return ("als", "bl832", owner, name, "raw", name + _H5_SUFFIX)


def quote_path(components: Iterable[str]) -> str:
    """Join path components with ``/``, percent-encoding each one completely.

    Parameters
    ----------
    components : iterable of str
        Unquoted components; ``/``, ``?``, ``#``, ``%`` and spaces inside a component are
        encoded, so a component can never escape its place in the URL.

    Returns
    -------
    str
        The quoted path, without a leading slash.
    """
    return "/".join(quote(c, safe="") for c in components)


def read_path_list(path: str | os.PathLike[str]) -> list[str]:
    """Read dataset names from a text file, one per line.

    Blank lines are skipped and ``#`` starts a comment (whole line or end of line).

    Parameters
    ----------
    path : str or path-like
        The list file (e.g. one of the ``filepath/`` lists).

    Returns
    -------
    list of str
        Dataset names in file order.

    Raises
    ------
    InputFileError
        The file cannot be read, or is not UTF-8 text (a UTF-8 byte-order mark is skipped).
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{os.fspath(path)}: not a UTF-8 text file ({exc}); expected a dataset list, one name per line"
        ) from None
    except OSError as exc:
        raise InputFileError(f"cannot read dataset list {os.fspath(path)!r}: {exc}") from exc
    names = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            names.append(entry)
    return names


def _as_list(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def NERSC_ArchivePath(  # legacy name, kept for old scripts
    names: str | Iterable[str],
    owner: str,
    archivepath: str | os.PathLike[str] = NERSC_DEFAULT_ARCHIVE,
) -> list[str]:
    """Archive directories of raw datasets on the NERSC file system.

    Parameters
    ----------
    names : str or iterable of str
        Dataset name(s); a ``".h5"`` suffix or ``"owner/"`` prefix is accepted.
    owner : str
        Account the data belongs to (overridden by an ``"owner/"`` prefix).
    archivepath : str or path-like
        Root of the warehouse, by default :data:`NERSC_DEFAULT_ARCHIVE`.

    Returns
    -------
    list of str
        ``<archivepath>/<owner>/<name>/raw/`` for each name, in order.
    """
    out = []
    for entry in _as_list(names):
        who, name = split_dataset(entry)
        who = _check_component(who or owner, "owner")
        out.append(os.path.join(os.fspath(archivepath), who, name, "raw", ""))
    return out


def NERSC_RetrieveData(  # legacy name, kept for old scripts
    names: str | Iterable[str],
    destinationpath: str | os.PathLike[str],
    owner: str,
    archivepath: str | os.PathLike[str] = NERSC_DEFAULT_ARCHIVE,
) -> list[str]:
    """Copy raw datasets from the NERSC archive to a local folder.

    Each copy goes to a temporary file in the destination and is renamed into place, so
    an interrupted copy never leaves a truncated ``.h5`` behind. A destination file that
    already has the size and modification time of its source is considered complete and
    skipped; any other is replaced by a fresh copy.

    Parameters
    ----------
    names : str or iterable of str
        Dataset name(s), as for :func:`NERSC_ArchivePath`.
    destinationpath : str or path-like
        Folder receiving ``<name>.h5`` files; created if needed.
    owner : str
        Account the data belongs to.
    archivepath : str or path-like
        Root of the warehouse.

    Returns
    -------
    list of str
        The destination file paths, in order.

    Raises
    ------
    InputFileError
        A source file is missing or unreadable.
    OutputError
        The destination cannot be created or written.
    """
    dest_dir = Path(destinationpath)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create destination folder {str(dest_dir)!r}: {exc}") from exc
    out = []
    entries = _as_list(names)
    for entry, directory in zip(entries, NERSC_ArchivePath(entries, owner, archivepath), strict=False):
        name = split_dataset(entry)[1]
        source = Path(directory) / (name + _H5_SUFFIX)
        target = dest_dir / (name + _H5_SUFFIX)
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise InputFileError(f"archive file {str(source)!r} is not readable: {exc}") from exc
        if _same_file_stat(source, target):
            logger.info("%s already complete (%d bytes); skipped", target, size)
            out.append(str(target))
            continue
        _copy_atomically(source, target)
        logger.info("copied %s -> %s (%d bytes)", source, target, size)
        out.append(str(target))
    return out


def _same_file_stat(source: Path, target: Path) -> bool:
    """Whether ``target`` is a complete copy: same size and modification time (the copy
    keeps the source's times), so a same-sized other file is not taken for it."""
    try:
        src, dst = source.stat(), target.stat()
    except OSError:
        return False
    return src.st_size == dst.st_size and abs(src.st_mtime - dst.st_mtime) < 1e-3


def _copy_atomically(source: Path, target: Path) -> None:
    # A fixed name, so the partial copy of a killed run is overwritten by the next run;
    # locked, so two jobs copying the same file wait for each other instead of mixing.
    tmp = target.with_name(f".{target.name}.part")
    try:
        out = open(tmp, "ab")  # noqa: SIM115 (closed below, after the rename)
    except OSError as exc:
        raise OutputError(f"cannot write {str(tmp)!r} in {str(target.parent)!r}: {exc.strerror or exc}") from None
    with out:
        fcntl.flock(out, fcntl.LOCK_EX)
        if _same_file_stat(source, target):  # another job finished it meanwhile
            return
        try:
            out.truncate(0)
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
            shutil.copystat(source, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            failed = source if not source.is_file() else target
            kind = InputFileError if failed == source else OutputError
            raise kind(f"cannot copy {str(source)!r} to {str(target)!r}: {exc}") from exc
        finally:
            if tmp.exists():
                tmp.unlink()
