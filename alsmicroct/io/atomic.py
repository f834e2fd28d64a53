"""The one atomic file writer: a hidden temporary in the same folder, flushed and
``fsync``-ed, renamed onto the final name, then the folder ``fsync``-ed.

A crash or an exception during a write never leaves a file under the final name that looks
finished; at worst a hidden ``.<name>.tmp-<pid>@<host>-<thread>`` remains, which the next run of the
same output (or ``alsmicroct-clean``) removes once its writer is gone
(:func:`alsmicroct.io.outputs.stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError

__all__ = [
    "atomic_file",
    "fsync_dir",
    "host_tag",
    "jsonable",
    "replace_durably",
    "temporary_path",
    "write_json_atomic",
    "writer_tag",
]


def host_tag() -> str:
    """This host's name as it appears in temporaries' names (characters other than letters,
    digits and ``_`` become ``_``)."""
    return re.sub(r"\W", "_", platform.node(), flags=re.ASCII) or "host"


def writer_tag() -> str:
    """``<pid>@<host>``: who writes a temporary. On a shared file system (row parts on
    several nodes writing one folder) a pid alone cannot say whether the writer is alive."""
    return f"{os.getpid()}@{host_tag()}"


def temporary_path(path: str | os.PathLike) -> Path:
    """Hidden temporary name for ``path``: ``<folder>/.<name>.tmp-<pid>@<host>-<thread>``.

    Same folder (same file system, so the final :func:`os.replace` is atomic), unique per
    process, host and thread.
    """
    p = Path(path)
    return p.with_name(f".{p.name}.tmp-{writer_tag()}-{threading.get_ident()}")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Best-effort ``fsync`` of a folder, so that a rename in it is durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_durably(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Finish a temporary written through its path (h5py, zarr): ``fsync`` it, rename it onto
    ``final``, ``fsync`` the folder.

    Raises
    ------
    OSError
        From the ``fsync`` or the rename (callers turn it into their :class:`OutputError`).
    """
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    fsync_dir(Path(final).parent)


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike, mode: str = "wb", *, what: str = "file", make_folder: bool = False
) -> Iterator[IO[Any]]:
    """Open a temporary for writing; on a clean exit it becomes ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        Final file name.
    mode : {"wb", "w"}
        Binary or text (UTF-8).
    what : str
        What the file is, for error messages (e.g. ``"TIFF"``, ``"provenance record"``).
    make_folder : bool
        Create the folder when missing (otherwise a missing folder is an error).

    Raises
    ------
    OutputError
        When the folder is missing or the file cannot be written; nothing is left under
        ``path`` and the temporary is removed.
    """
    final = Path(path)
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_file mode {mode!r}: expected 'wb' or 'w'")
    if make_folder:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write {what} {final}: cannot create its folder ({exc})") from exc
    elif not final.parent.is_dir():
        raise OutputError(f"cannot write {what} {final}: folder {final.parent} does not exist")
    tmp = temporary_path(final)
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {what} {final}: {exc}") from exc
        raise
    fsync_dir(final.parent)


def jsonable(value: Any) -> Any:
    """``value`` ready for JSON: paths as text, tuples and arrays as lists, numpy scalars as
    numbers, mapping keys as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    return value


def write_json_atomic(path: str | os.PathLike, record: Any, *, what: str = "JSON file") -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically (folder created when missing)."""
    with atomic_file(path, "w", what=what, make_folder=True) as fh:
        json.dump(jsonable(record), fh, indent=2, allow_nan=True)
        fh.write("\n")
    return Path(path)
