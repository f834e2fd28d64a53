"""OME-Zarr volume writer: NGFF 0.5 (Zarr v3, default) or 0.4 (Zarr v2), written slab by slab.

Layout of a store ``<name>.ome.zarr``: a group whose array ``0`` is the full-resolution
volume ``(z, y, x)``, arrays ``1``, ``2``, ... the 2x-downsampled levels (when asked for),
the NGFF ``multiscales`` metadata (axes z, y, x in micrometer, scale and translation from
the voxel size) and, under the ``alsmicroct`` key, the run's parameters and provenance.

Safety rules (the writer alone decides them):

- every write covers whole chunks (a z "layer" of chunks: ``chunks[0]`` slices of the full
  y, x extent); slices of a layer that is not complete yet are buffered in the writer until
  it is, so each chunk has exactly one writer; Dask workers attach to the store
  (:meth:`ZarrVolumeWriter.attach`) and write only whole layers;
- whole layers go to one background thread per writer (zarr encodes a layer's chunks
  concurrently, each chunk by one task), at most ``MAX_INFLIGHT_LAYERS`` queued, so writing
  overlaps the computing of the next block and memory stays flat; :meth:`flush`,
  :meth:`close` and :meth:`finish` wait for them and raise a failed write;
- after a layer's chunks are written, a marker file ``.<name>.progress/<layer>`` records it;
  a resumed writer keeps the marked layers and writes the others again (chunk files
  themselves are replaced atomically by zarr, so a killed writer leaves only temporaries,
  which the next writer removes);
- the multiscale metadata is written last, by :meth:`ZarrVolumeWriter.finish`: a store
  without it is not complete and never looks complete to a reader;
- a lock file ``.<name>.lock`` names the writing process (host, pid); a lock of a dead
  process is taken over, a live one is an :class:`~alsmicroct.errors.OutputError`.

The pyramid is built after the full level, in one extra pass that reads at most 2 x 2 x 2
chunks of the level above per output chunk (memory bounded by the chunk size, not the
volume): a chunk of level k covers 2**k full-resolution layers, which may come from
different Dask workers, so building it while streaming would break the one-writer-per-chunk
rule.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputError
from ..names import NGFF_VERSIONS
from .atomic import jsonable
from .outputs import pid_alive

__all__ = [
    "CODEC",
    "DEFAULT_LEVEL",
    "MAX_INFLIGHT_LAYERS",
    "StoreLock",
    "ZarrVolumeWriter",
    "default_chunks",
    "downsample2",
    "is_complete_zarr",
    "pyramid_shapes",
    "zarr_done_layers",
]

logger = logging.getLogger(__name__)

_ZARR_FORMAT = {"0.4": 2, "0.5": 3}
_MIN_LEVEL_PX = 256
MAX_INFLIGHT_LAYERS = 2
CODEC = "lz4"
"""Blosc compressor of new stores (byte shuffle). Chosen by ``benchmarks/bench_volume_outputs.py
--codecs`` (write alone, 64 x 2048 x 2048 float32 reconstruction): lz4 level 5 costs about half
the CPU of zstd level 1 (the writes compete with the reconstruction for the cores), compresses
1.44 x instead of 1.51 x and decodes 2 x faster (the 256^3 reads). Stores written with another
codec stay readable (zarr reads the codec from the array metadata)."""
DEFAULT_LEVEL = 5
"""Blosc level of :data:`CODEC` in new stores (``compression`` of the writer)."""
"""Whole layers a writer keeps queued for its background thread (one being written, one
waiting): the memory held beyond the caller's own is at most this many layers."""


def default_chunks(shape: tuple[int, int, int], *, slab: int = 32, yx: int = 128) -> tuple[int, int, int]:
    """Chunk shape for ``shape``: z = ``slab`` (the pipeline's rows per block, capped at the
    volume), y and x = ``yx`` pixels (capped at the volume)."""
    nz, ny, nx = shape
    return max(1, min(int(slab), nz)), max(1, min(yx, ny)), max(1, min(yx, nx))


def pyramid_shapes(shape: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Shapes of the levels: halved (rounded up) in z, y, x until y and x are <= 256 px."""
    out = [tuple(int(s) for s in shape)]
    while max(out[-1][1:]) > _MIN_LEVEL_PX:
        out.append(tuple(max(1, (s + 1) // 2) for s in out[-1]))
    return out


def downsample2(block: np.ndarray) -> np.ndarray:
    """Mean over 2 x 2 x 2 voxels (edge voxels repeated for odd sizes), same dtype."""
    pad = [(0, s % 2) for s in block.shape]
    b = (
        np.pad(block.astype(np.float32, copy=False), pad, mode="edge")
        if any(p[1] for p in pad)
        else block.astype(np.float32, copy=False)
    )
    mean = None
    for dz in (0, 1):  # 8 strided sums: ~6x faster than reshape(...).mean()
        for dy in (0, 1):
            for dx in (0, 1):
                v = b[dz::2, dy::2, dx::2]
                mean = v.copy() if mean is None else np.add(mean, v, out=mean)
    mean *= np.float32(0.125)
    if np.issubdtype(block.dtype, np.integer):
        return np.rint(mean).astype(block.dtype)
    return mean.astype(block.dtype, copy=False)


def _sidecar(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}")


def _ome(attrs: Mapping[str, Any]) -> Any:
    """The NGFF multiscales of group attributes (0.5 under "ome", 0.4 at the top)."""
    return (attrs.get("ome") or {}).get("multiscales") or attrs.get("multiscales")


def is_complete_zarr(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a store whose final (multiscales) metadata was written."""
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
    except Exception:
        return False
    return bool(_ome(group.attrs.asdict()))


def zarr_done_layers(path: str | os.PathLike) -> set[int]:
    """Layers (z chunk indices) of the full level recorded complete (all, when the store is)."""
    import zarr

    path = Path(path)
    if not path.exists():
        return set()
    try:
        group = zarr.open_group(str(path), mode="r")
        arr = group["0"]
    except Exception:
        return set()
    if _ome(group.attrs.asdict()):
        return set(range(-(-arr.shape[0] // arr.chunks[0])))
    folder = _sidecar(path, "progress")
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


class StoreLock:
    """A lock file naming the writer (host, pid); stale locks of dead processes are taken over."""

    def __init__(self, store: Path) -> None:
        self.path = _sidecar(store, "lock")
        self.store = store

    def acquire(self) -> None:
        me = {"host": platform.node(), "pid": os.getpid()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                    return
                if (
                    holder
                    and holder.get("host") == me["host"]
                    and isinstance(holder.get("pid"), int)
                    and pid_alive(holder["pid"])
                ):
                    raise OutputError(
                        f"{self.store}: another process (pid {holder['pid']} on {holder['host']}) "
                        f"is writing this store (lock {self.path}); wait for it or stop it first. "
                        "Nothing was written."
                    ) from None
                if holder and holder.get("host") not in (None, me["host"]):
                    raise OutputError(
                        f"{self.store}: locked by pid {holder.get('pid')} on host {holder.get('host')} "
                        f"({self.path}); if that run is gone, remove the lock file"
                    ) from None
                logger.warning("%s: taking over the stale lock of pid %s", self.store, (holder or {}).get("pid"))
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            except PermissionError as exc:
                raise OutputError(
                    f"{self.store}: cannot write there (read-only: {exc.strerror}); nothing was written"
                ) from None
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            return
        raise OutputError(f"{self.store}: cannot take the lock {self.path}")

    def _holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        holder = self._holder()
        if holder and holder.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


class ZarrVolumeWriter:
    """Write a ``(z, y, x)`` volume into an OME-Zarr store, slab by slab (see the module notes).

    Use :func:`alsmicroct.io.volumes.open_writer` to make one; :meth:`attach` joins a store that
    another process (the coordinator) holds the lock of.
    """

    format = "zarr"

    def __init__(
        self,
        path: str | os.PathLike,
        shape: tuple[int, int, int],
        *,
        dtype: Any = np.float32,
        chunks: tuple[int, int, int] | None = None,
        voxel_size_um: tuple[float, float, float] | None = None,
        origin_um: tuple[float, float, float] = (0.0, 0.0, 0.0),
        attrs: Mapping[str, Any] | None = None,
        ngff_version: str = "0.5",
        multiscale: bool = False,
        compression: int | None = DEFAULT_LEVEL,
        _attach: bool = False,
    ) -> None:
        import zarr

        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.multiscale = multiscale
        self.voxel_size_um = tuple(float(v) for v in (voxel_size_um or (1.0, 1.0, 1.0)))
        self.origin_um = tuple(float(v) for v in origin_um)
        self.attrs = dict(attrs or {})
        self.compression = compression
        self._buffer: dict[int, dict[int, np.ndarray]] = {}
        self._lock = None
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: deque[Future] = deque()
        if ngff_version not in NGFF_VERSIONS:
            raise OutputError(f"{self.path}: ngff_version={ngff_version!r} is not one of {list(NGFF_VERSIONS)}")
        self.ngff_version = ngff_version
        if _attach:
            self.group = zarr.open_group(str(self.path), mode="r+")
            self.array = self.group["0"]
            self.shape, self.dtype, self.chunks = self.array.shape, self.array.dtype, self.array.chunks
            return
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise OutputError(f"{self.path}: volume shape {self.shape}: expected three positive sizes (z, y, x)")
        self.chunks = tuple(int(c) for c in (chunks or default_chunks(self.shape)))
        parent = self.path.parent
        if not parent.is_dir():
            raise OutputError(f"{self.path}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            raise OutputError(f"{self.path}: the store or its folder is read-only; nothing was written")
        self._lock = StoreLock(self.path)
        self._lock.acquire()
        try:
            self._open_or_create(zarr)
        except BaseException:
            self._lock.release()
            raise

    @classmethod
    def attach(cls, path: str | os.PathLike) -> ZarrVolumeWriter:
        """Join a store being written by another process: whole layers only, no lock, no finish."""
        return cls(path, (1, 1, 1), _attach=True)

    # ------------------------------------------------------------------ set-up
    def _open_or_create(self, zarr: Any) -> None:
        fmt = _ZARR_FORMAT[self.ngff_version]
        if self.path.exists():
            try:
                group = zarr.open_group(str(self.path), mode="r+")
                arr = group["0"]
            except Exception as exc:
                raise OutputError(
                    f"{self.path} exists but is not an alsmicroct Zarr store ({exc}); remove it or "
                    "choose another output. Nothing was overwritten."
                ) from None
            if (arr.shape, arr.dtype, group.metadata.zarr_format) != (self.shape, self.dtype, fmt):
                raise OutputError(
                    f"{self.path} holds a {arr.shape} {arr.dtype} Zarr v{group.metadata.zarr_format} "
                    f"volume, not {self.shape} {self.dtype} v{fmt}; remove it (resume=False) or "
                    "choose another output. Nothing was overwritten."
                )
            self.group, self.array, self.chunks = group, arr, arr.chunks
            if _ome(group.attrs.asdict()):
                raise OutputError(
                    f"{self.path} is a complete store already; remove it (resume=False, "
                    "--overwrite) to write it again. Nothing was overwritten."
                )
            self._remove_partials()
            return
        group = zarr.open_group(str(self.path), mode="w-", zarr_format=fmt)
        group.attrs.update({"alsmicroct": jsonable({**self.attrs, "status": "writing"})})
        self.group = group
        self.array = self._create_level("0", self.shape, self.chunks)
        _sidecar(self.path, "progress").mkdir(exist_ok=True)

    def _create_level(self, name: str, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Any:
        fmt = _ZARR_FORMAT[self.ngff_version]
        kw: dict[str, Any] = {"shape": shape, "chunks": chunks, "dtype": self.dtype, "fill_value": 0, "overwrite": True}
        if fmt == 3:
            from zarr.codecs import BloscCodec

            kw["compressors"] = (
                None
                if self.compression is None
                else BloscCodec(
                    cname=CODEC,
                    clevel=int(self.compression),
                    shuffle="shuffle" if self.dtype.itemsize > 1 else "noshuffle",
                )
            )
            kw["dimension_names"] = ("z", "y", "x")
        else:
            from numcodecs import Blosc

            kw["compressors"] = (
                None
                if self.compression is None
                else Blosc(
                    cname=CODEC, clevel=int(self.compression), shuffle=Blosc.SHUFFLE if self.dtype.itemsize > 1 else 0
                )
            )
            kw["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
        return self.group.create_array(name, **kw)

    def _remove_partials(self) -> None:
        for tmp in self.path.rglob("*.partial"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    @property
    def nlayers(self) -> int:
        return -(-self.shape[0] // self.chunks[0])

    def _layer_range(self, layer: int) -> tuple[int, int]:
        c = self.chunks[0]
        return layer * c, min(self.shape[0], (layer + 1) * c)

    def _mark(self, layers: Any) -> None:
        folder = _sidecar(self.path, "progress")
        folder.mkdir(exist_ok=True)
        for layer in layers:
            (folder / str(layer)).touch()

    # ------------------------------------------------------------------ writing
    def done_slices(self) -> set[int]:
        """Indices z of the slices already written in complete layers (kept on resume); a
        layer still queued counts once written (:meth:`flush` waits for them)."""
        out: set[int] = set()
        for layer in zarr_done_layers(self.path):
            out.update(range(*self._layer_range(layer)))
        return out

    def write_slab(self, z0: int, data: np.ndarray) -> None:
        """Write ``data`` (n, y, x) at slices ``z0 .. z0 + n - 1``.

        Whole layers are queued for the background writer thread (at most
        ``MAX_INFLIGHT_LAYERS`` at a time: the call waits when the queue is full, so memory
        stays flat); the slices of an incomplete layer wait in the writer until the layer is
        complete. An array that owns its memory is kept as it is until written (do not change
        it afterwards); a view is copied. A failed background write is raised by the next
        call, :meth:`close` or :meth:`finish`.
        """
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[None]
        n = data.shape[0]
        if data.shape[1:] != self.shape[1:] or z0 < 0 or z0 + n > self.shape[0]:
            raise OutputError(f"{self.path}: slab {data.shape} at z={z0} does not fit the volume {self.shape}")
        if data.dtype != self.dtype or not data.flags.owndata:
            data = data.astype(self.dtype, copy=True)
        c = self.chunks[0]
        for layer in range(z0 // c, (z0 + n - 1) // c + 1):
            lo, hi = self._layer_range(layer)
            a, b = max(lo, z0), min(hi, z0 + n)
            if (a, b) == (lo, hi):
                self._submit(layer, data[a - z0 : b - z0])
                continue
            part = self._buffer.setdefault(layer, {})
            for z in range(a, b):
                part[z] = data[z - z0]
            if len(part) == hi - lo:
                del self._buffer[layer]
                self._submit(layer, np.stack([part[z] for z in range(lo, hi)]))

    def _submit(self, layer: int, data: np.ndarray) -> None:
        """Queue one whole layer for the writer thread, waiting while the queue is full."""
        while self._inflight and (self._inflight[0].done() or len(self._inflight) >= MAX_INFLIGHT_LAYERS):
            self._inflight.popleft().result()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="alsmicroct-zarr")
        self._inflight.append(self._pool.submit(self._write_layer, layer, data))

    def flush(self) -> None:
        """Wait until every queued layer is written (and marked done); raise the first failure."""
        self._drain()

    def _drain(self) -> None:
        try:
            while self._inflight:
                self._inflight.popleft().result()
        finally:
            if self._pool is not None and not self._inflight:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _write_layer(self, layer: int, data: np.ndarray) -> None:
        lo, hi = self._layer_range(layer)
        self.array[lo:hi] = data
        self._mark([layer])

    def _check_no_partial(self) -> None:
        if self._buffer:
            missing = sorted(
                z for layer, part in self._buffer.items() for z in range(*self._layer_range(layer)) if z not in part
            )
            raise OutputError(
                f"{self.path}: {len(missing)} slice(s) never written (z {missing[0]}..{missing[-1]}); "
                "the store is left incomplete (resume writes the rest)"
            )

    def close(self) -> None:
        """End a worker's writing (attached writers): wait for the queued layers; every
        buffered layer must be complete."""
        self._drain()
        self._check_no_partial()

    # ------------------------------------------------------------------ end
    def finish(self, provenance: Mapping[str, Any] | None = None) -> Path:
        """Wait for the queued layers, check every layer is written, build the pyramid, then
        write the final metadata."""
        self._drain()
        self._check_no_partial()
        missing = sorted(set(range(self.nlayers)) - zarr_done_layers(self.path))
        if missing:
            raise OutputError(
                f"{self.path}: {len(missing)} chunk layer(s) never written (first z "
                f"{self._layer_range(missing[0])[0]}); the store is left incomplete"
            )
        shapes = pyramid_shapes(self.shape) if self.multiscale else [self.shape]
        for k in range(1, len(shapes)):
            self._build_level(k, shapes[k])
        attrs = jsonable({**self.attrs, "status": "complete", **({"provenance": provenance} if provenance else {})})
        self.group.attrs.update({"alsmicroct": attrs, **self._multiscales(len(shapes))})
        shutil.rmtree(_sidecar(self.path, "progress"), ignore_errors=True)
        self._release()
        return self.path

    def abort(self) -> None:
        """Stop writing: queued and buffered slices are dropped (a layer being written is
        finished first), complete layers stay for a resume."""
        self._buffer.clear()
        for f in self._inflight:
            f.cancel()
        for f in self._inflight:
            with contextlib.suppress(BaseException):
                f.result()
        self._inflight.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _build_level(self, k: int, shape: tuple[int, int, int]) -> None:
        src = self.group[str(k - 1)]
        chunks = tuple(min(c, s) for c, s in zip(self.chunks, shape, strict=True))
        dst = self._create_level(str(k), shape, chunks)
        grid = [range(0, s, c) for s, c in zip(shape, chunks, strict=True)]

        def one(z: int, y: int, x: int) -> None:
            cz, cy, cx = (min(c, s - o) for c, s, o in zip(chunks, shape, (z, y, x), strict=True))
            block = src[2 * z : 2 * (z + cz), 2 * y : 2 * (y + cy), 2 * x : 2 * (x + cx)]
            dst[z : z + cz, y : y + cy, x : x + cx] = downsample2(block)[:cz, :cy, :cx]

        with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
            for f in [pool.submit(one, z, y, x) for z in grid[0] for y in grid[1] for x in grid[2]]:
                f.result()

    def _multiscales(self, nlevels: int) -> dict[str, Any]:
        axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in ("z", "y", "x")]
        datasets = []
        for k in range(nlevels):
            f = 2**k
            scale = [v * f for v in self.voxel_size_um]
            translation = [o + (f - 1) * v / 2 for o, v in zip(self.origin_um, self.voxel_size_um, strict=True)]
            datasets.append(
                {
                    "path": str(k),
                    "coordinateTransformations": [
                        {"type": "scale", "scale": scale},
                        {"type": "translation", "translation": translation},
                    ],
                }
            )
        ms = {"name": self.path.name.split(".")[0], "axes": axes, "datasets": datasets}
        if self.ngff_version == "0.5":
            return {"ome": {"version": "0.5", "multiscales": [ms]}}
        return {"multiscales": [{"version": "0.4", **ms}]}
