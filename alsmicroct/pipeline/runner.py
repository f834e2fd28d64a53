"""Streaming execution of a :class:`~alsmicroct.pipeline.plan.ReconPlan`.

Data flow (peak memory set by ``chunk_sino``/``chunk_proj``, never by the dataset):

1. Without projection steps: one pass over row blocks. A reader thread prefetches the
   next block of raw rows while the current one is processed (pre-processing steps,
   reconstruction, post-processing) and a writer pool writes finished slices.
2. With a projection step (phase retrieval): the sinogram steps run over row blocks into
   a temporary HDF5 store next to the output; the projection step re-reads the store in
   projection chunks and writes back in place; the final pass reads row blocks from the
   store. The store is deleted afterwards, also after a failure.

Steps that look at neighbouring rows get their blocks with extra margin rows, cropped
afterwards, so pre- and post-processing do not depend on the chunk size. (Gridrec
regrids rows in pairs; a row regridded alone or with another partner differs at the
level of the regridding tolerance, ~1e-4 relative. With ``num_threads=1`` repeated runs
are bit-identical.)
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ReconstructionError
from ..memory import release_free_heap
from .plan import ReconPlan, scan_options
from .quality_report import QualityGather
from .steps import Block, Step, build_steps, post_steps

__all__ = ["Runner", "block_ranges", "block_rows", "first_raw_read", "open_plan_writer", "raw_read"]

logger = logging.getLogger(__name__)


def block_ranges(n: int, size: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into consecutive ``[start, end)`` blocks of at most ``size``."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def raw_read(plan: ReconPlan, rows: np.ndarray, row_margin: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """``(proj, rows)`` specs of the raw read of a row block: the plan's projections, and
    ``rows`` (absolute) widened by ``row_margin`` on each side (then every row in between)."""
    if row_margin == 0:
        step = int(rows[1] - rows[0]) if rows.size > 1 else 1
        spec = (int(rows[0]), int(rows[-1]) + 1, step)
    else:
        spec = (max(0, int(rows[0]) - row_margin), min(plan.meta.nslices, int(rows[-1]) + row_margin + 1), 1)
    p = plan.proj_indices
    pstep = int(p[1] - p[0]) if p.size > 1 else 1
    return (int(p[0]), int(p[-1]) + 1, pstep), spec


def first_raw_read(plan: ReconPlan) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """The raw read (:func:`raw_read`) a local TIFF run of ``plan`` makes first, as far as the
    plan's parameters decide it now; None where the first read is another (projection steps
    read a store, volume outputs round blocks to their chunks, 360 deg stitching re-plans)."""
    p = plan.params
    steps = build_steps(plan)
    if p.outputFormat != "tiff" or p.use360to180 or any(s.axis == "proj" for s in steps):
        return None
    margin = sum(s.row_margin for s in post_steps(plan))
    start, end = block_ranges(plan.rows.size, block_rows(plan))[0]
    rows = plan.rows[max(0, start - margin) : min(plan.rows.size, end + margin)]
    return raw_read(plan, rows, sum(s.row_margin for s in steps))


_ZARR_MAX_CHUNK_Z = 32
#: the final pass runs in at least this many blocks where the rows allow (so that reading the
#: next block and writing the last one overlap the computing of this one) ...
MIN_BLOCKS = 4
#: ... but no block is made smaller than this many rows for it (per-block costs)
MIN_BLOCK_ROWS = 16


def block_rows(plan: ReconPlan, *, layer: int | None = None) -> int:
    """Rows per block of the final pass (the one rule; the memory check sizes its chunk by it).

    At most ``chunk_sino`` rows, and at most a :data:`MIN_BLOCKS`-th of the rows (but not
    fewer than :data:`MIN_BLOCK_ROWS`): one block of the whole volume would leave the
    reader, the computing and the writers waiting on each other, and runs slower in large
    blocks besides (measured in ``benchmarks/bench_volume_outputs.py`` as
    "tiff-same-blocks"). With a zarr volume (``layer``: its chunk height; default: the one
    :func:`open_plan_writer` would choose when ``outputFormat`` is zarr) the blocks are whole
    chunk layers. The output does not depend on the blocks (each row is reconstructed alone;
    the steps that reach across rows read their margins), to the last bit as long as the
    blocks hold an even number of rows (gridrec transforms two rows at a time). A plan whose
    ``block_cap`` is set (the rows the free memory allows,
    :func:`alsmicroct.pipeline.execute.fit_plan_memory`) runs in blocks of at most that many.
    """
    nrows, chunk_sino = int(plan.rows.size), int(plan.params.chunk_sino)
    if layer is None:
        layer = zarr_layer(plan)
    if plan.block_cap:
        chunk_sino = min(chunk_sino, max(int(plan.block_cap), layer or 1))
    if layer:
        share = -(-nrows // (MIN_BLOCKS * layer)) * layer
        return max(layer, min(chunk_sino // layer * layer, share))
    share = max(-(-nrows // MIN_BLOCKS), MIN_BLOCK_ROWS)
    share += share % 2  # even: gridrec pairs rows the same way as in one block (same bytes)
    return max(1, min(chunk_sino, share, nrows))


def zarr_layer(plan: ReconPlan) -> int | None:
    """Chunk height of the zarr volume :func:`open_plan_writer` would make for ``plan`` (from
    ``chunk_sino`` alone, never from the free memory), or None when the output is not zarr."""
    if plan.params.outputFormat != "zarr":
        return None
    return max(1, min(_chunk_z(int(plan.params.chunk_sino)), int(plan.rows.size)))


def _chunk_z(chunk_sino: int) -> int:
    """Zarr chunk height for blocks of ``chunk_sino`` rows: 32 when blocks rounded down to
    multiples of 32 keep >= 90 % of ``chunk_sino`` rows (100 -> 32, blocks of 96), else its
    largest divisor <= 32 (each block then holds whole chunks), or 32 when that divisor is
    tiny (blocks are rounded). 32 x 128 x 128 float32 chunks (2 MiB) keep a 256^3 read to
    2 x 3 x 3 chunks even when the box is not aligned to them (a 25-row chunk height, the
    divisor of 100, made it 3 x 3 x 3 for a 64-row volume, and blocks of an odd row count)."""
    top = _ZARR_MAX_CHUNK_Z
    if chunk_sino >= top and chunk_sino // top * top * 10 >= 9 * chunk_sino:
        return top
    best = max(d for d in range(1, min(chunk_sino, top) + 1) if chunk_sino % d == 0)
    return best if best >= 8 else min(chunk_sino, top)


def open_plan_writer(plan: ReconPlan) -> Any:
    """The volume writer of a zarr/h5 plan (:func:`alsmicroct.io.volumes.open_writer`): shape
    (rows, width, width), voxel size from the pixel size (z scaled by the row step)."""
    from ..io.volume_zarr import default_chunks
    from ..io.volumes import open_writer

    p = plan.params
    px_um = plan.pxsize_cm * 1e4
    step = int(plan.rows[1] - plan.rows[0]) if plan.rows.size > 1 else 1
    shape = (int(plan.rows.size), plan.width, plan.width)
    attrs = {
        "units": "uint8 levels" if p.castTo8bit else "1/cm",
        "cor": plan.cor,
        "source": plan.path.name,
        "rows_first_last_step": [int(plan.rows[0]), int(plan.rows[-1]), step],
        "parameters": p.to_dict(),
    }
    return open_writer(
        plan.volume_path,
        p.outputFormat,
        shape,
        dtype=plan.out_dtype,
        chunks=default_chunks(shape, slab=_chunk_z(p.chunk_sino)),
        voxel_size_um=(px_um * step, px_um, px_um),
        origin_um=(int(plan.rows[0]) * px_um, 0.0, 0.0),
        attrs=attrs,
        ngff_version=p.ngffVersion,
        multiscale=p.zarrMultiscale,
    )


class _Timer:
    """Accumulates wall time per stage (thread-safe enough for += on floats under the GIL)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = defaultdict(float)

    def add(self, key: str, start: float) -> None:
        self.times[key] += time.perf_counter() - start


class Runner:
    """Run the plan's steps, reconstruction, post-processing and writing.

    Parameters
    ----------
    plan : ReconPlan
        The resolved plan (centre already known).
    skip_rows : set of int
        Absolute rows whose slices are already complete (resume); they are not rewritten.
    progress : bool
        Show a progress bar over blocks.
    store : (Path, int), optional
        A pre-processed store made by :meth:`prepare_store` elsewhere (its path and first
        detector row): Dask workers read their rows from it.
    volume : writer, optional
        Zarr/HDF5 output (:func:`open_plan_writer`): slabs go there (z = index in
        ``plan.rows``) instead of TIFF slices; its owner finishes it. Dask workers of a
        zarr plan attach to the store themselves.
    scan : RawScan, optional
        ``plan.path`` already open (:func:`alsmicroct.io.open_scan` with the plan's scan
        options): read from it instead of opening the file again (the caller closes it).
    """

    def __init__(
        self,
        plan: ReconPlan,
        *,
        skip_rows: set[int] | None = None,
        progress: bool = False,
        store: tuple[Path, int] | None = None,
        volume: Any = None,
        scan: Any = None,
    ) -> None:
        if not plan.centred:
            raise ReconstructionError(
                f"{plan.path}: the plan has no centre; plan it with alsmicroct.pipeline.prepare.prepare()"
            )
        self.plan = plan
        self.skip_rows = set(skip_rows or ())
        self.progress = progress
        self.timer = _Timer()
        #: Convergence log of each block of an iterative run (rows, residual per iteration, ...).
        self.convergence: list[dict] = []
        steps = build_steps(plan)
        first_proj = next((i for i, s in enumerate(steps) if s.axis == "proj"), len(steps))
        self.sino_steps: list[Step] = steps[:first_proj]
        self.proj_steps: list[Step] = steps[first_proj:]
        self.row_margin = sum(s.row_margin for s in self.sino_steps)
        self.post_steps: list[Step] = post_steps(plan)
        self.store_path: Path | None = store[0] if store else None
        self.store_row0: int = store[1] if store else 0
        self.volume = volume
        #: Quality figures gathered on a few sample rows as they stream (quality_report).
        self.quality = QualityGather(plan)
        self.scan = scan

    def _open_scan(self) -> AbstractContextManager:
        """The raw scan to read: the one given (left open), else ``plan.path`` opened."""
        if self.scan is not None:
            return nullcontext(self.scan)
        from ..io import open_scan

        return open_scan(self.plan.path, **scan_options(self.plan.params))

    # ------------------------------------------------------------------ public
    def run(self) -> list[Path]:
        """Process every planned row; returns the slice files written or kept."""
        plan = self.plan
        todo = [i for i, r in enumerate(plan.rows) if int(r) not in self.skip_rows]
        if not todo:
            logger.info("all %d slices of %s already complete", plan.rows.size, plan.path.name)
            return self.files()
        try:
            if self.proj_steps:
                self.prepare_store()
            self._final_pass(self._blocks_to_do())
        finally:
            if self.proj_steps:
                self.remove_store()
        return self.files()

    def files(self) -> list[Path]:
        """The run's output: slice files of every planned row, or the one zarr/h5 volume."""
        if self.plan.params.outputFormat != "tiff":
            return [self.plan.volume_path]
        return [self.plan.slice_path(int(r)) for r in self.plan.rows]

    def final_blocks(self) -> list[tuple[int, int]]:
        """All ``[start, end)`` blocks (indices into ``plan.rows``) of the final pass, of
        :func:`block_rows` rows each (whole chunk layers of the zarr volume being written)."""
        chunks = getattr(self.volume, "chunks", None)
        return block_ranges(self.plan.rows.size, block_rows(self.plan, layer=chunks[0] if chunks else None))

    def process_block(self, start: int, end: int) -> list[Path]:
        """Reconstruct and write rows ``plan.rows[start:end]`` (used by Dask workers)."""
        from ..io import open_scan

        if self.plan.params.outputFormat == "zarr" and self.volume is None:
            from ..io.volume_zarr import ZarrVolumeWriter

            self.volume = ZarrVolumeWriter.attach(self.plan.volume_path)
        with open_scan(self.plan.path, **scan_options(self.plan.params)) as scan:
            block = self._load_final(scan, start, end)
            self._compute_and_write(block, start, end, writer=None)
        if self.volume is not None:
            self.volume.close()
        return self.files()

    # ------------------------------------------------------------------ blocks
    def _blocks_to_do(self) -> list[tuple[int, int]]:
        out = []
        for start, end in self.final_blocks():
            rows = self.plan.rows[start:end]
            if any(int(r) not in self.skip_rows for r in rows):
                out.append((start, end))
        return out

    def _bilateral_margin(self) -> int:
        """Slices the slice steps need on each side (the 3-D bilateral filter)."""
        return sum(s.row_margin for s in self.post_steps)

    @property
    def store(self) -> tuple[Path, int] | None:
        """The pre-processed store (path, first row), once :meth:`prepare_store` made it."""
        return None if self.store_path is None else (self.store_path, self.store_row0)

    def _final_pass(self, blocks: list[tuple[int, int]]) -> None:
        bar = _progress_bar(len(blocks), f"recon {self.plan.path.name}", self.progress)
        with (
            self._open_scan() as scan,
            ThreadPoolExecutor(1, thread_name_prefix="alsmicroct-read") as reader,
            ThreadPoolExecutor(2, thread_name_prefix="alsmicroct-write") as writer,
        ):
            pending: Future | None = None
            for k, (start, end) in enumerate(blocks):
                block = pending.result() if pending is not None else self._load_final(scan, start, end)
                pending = reader.submit(self._load_final, scan, *blocks[k + 1]) if k + 1 < len(blocks) else None
                self._compute_and_write(block, start, end, writer=writer)
                del block
                release_free_heap()
                bar.update(1)
        bar.close()

    def _load_final(self, scan, start: int, end: int) -> Block:
        """Data for rows ``plan.rows[start:end]`` plus bilateral margins, pre-processed."""
        plan = self.plan
        m = self._bilateral_margin()
        lo, hi = max(0, start - m), min(plan.rows.size, end + m)
        rows = plan.rows[lo:hi]
        if self.proj_steps:
            t0 = time.perf_counter()
            data = self._read_store(rows)
            self.timer.add("read", t0)
            return Block(data=data, rows=rows, proj=np.arange(data.shape[0]))
        return self._sino_block(scan, rows)

    def _sino_block(self, scan, rows: np.ndarray) -> Block:
        """Read raw rows (with the steps' margins) and run the sinogram steps."""
        plan = self.plan
        p = plan.proj_indices
        proj_spec, spec = raw_read(plan, rows, self.row_margin)
        t0 = time.perf_counter()
        data = scan.read_projections(proj=proj_spec, rows=spec)
        flats = scan.read_flats(rows=spec)
        darks = scan.read_darks(rows=spec)
        self.timer.add("read", t0)
        block = Block(
            data=data,
            rows=np.arange(*spec),
            proj=np.arange(p.size),
            flats=flats,
            darks=darks,
            flat_indices=np.asarray(scan.flat_indices),
        )
        t0 = time.perf_counter()
        self.quality.raw(block)
        for step in self.sino_steps:
            before = self.quality.snapshot(block) if step.name.startswith("outliers") else None
            block.data = _check(step.run(block, plan), step.name)
            if before is not None:
                self.quality.changed(step.name, before, block)
        if self.row_margin:
            keep = np.searchsorted(block.rows, rows)
            block.data = np.ascontiguousarray(block.data[:, keep])
            block.rows = rows
        self.timer.add("prep", t0)
        return block

    # ------------------------------------------------------------------ compute
    def _compute_and_write(self, block: Block, start: int, end: int, *, writer: ThreadPoolExecutor | None) -> None:
        from .. import engine, post

        plan = self.plan
        p = plan.params
        self.quality.sinogram(block)
        t0 = time.perf_counter()
        iterative = p.iterative_options()
        if iterative is None:
            rec = engine.reconstruct(
                block.data,
                plan.recon_theta,
                center=plan.centers_for(block.rows),
                algorithm=p.algorithm,
                filter_name=p.filter_name,
                cutoff=p.butterworth_cutoff,
                order=p.butterworth_order,
                npad=plan.npad,
                num_threads=p.num_threads,
            )
        else:
            rec, log = engine.reconstruct_iterative(
                block.data,
                plan.recon_theta,
                center=plan.centers_for(block.rows),
                algorithm=p.algorithm,
                num_threads=p.num_threads,
                **iterative,
            )
            self.convergence.append({"rows": [int(block.rows[0]), int(block.rows[-1])], **log.to_dict()})
        self.timer.add("reconstruct", t0)
        t0 = time.perf_counter()
        rec /= np.float32(plan.pxsize_cm)
        rec = post.circ_mask(rec, ratio=1.0, val=0.0)
        gathered = False
        for step in self.post_steps:
            if step.name == "cast_8bit":  # the figures are in 1/cm
                self.quality.slices(rec, block.rows)
                gathered = True
            rec = step.run(Block(data=rec, rows=block.rows, proj=block.proj), plan)
        if not gathered:
            self.quality.slices(rec, block.rows)
        keep = np.searchsorted(block.rows, plan.rows[start:end])
        self.timer.add("post", t0)
        self._write(rec, keep, plan.rows[start:end], writer)

    def _write(self, rec: np.ndarray, keep: np.ndarray, rows: np.ndarray, writer: ThreadPoolExecutor | None) -> None:
        from ..io.tiff import write_tiff_atomic

        plan = self.plan
        if self.volume is not None:
            self._write_volume(rec, keep, rows)
            return
        meta = {
            "units": "uint8 levels" if plan.params.castTo8bit else "1/cm",
            "cor": plan.cor,
            "source": plan.path.name,
        }
        futures: list[Future] = []
        for k, row in zip(keep, rows, strict=True):
            row = int(row)
            if row in self.skip_rows:
                continue
            image = np.ascontiguousarray(rec[k].astype(plan.out_dtype, copy=False))

            def job(image=image, row=row) -> None:
                t0 = time.perf_counter()
                write_tiff_atomic(plan.slice_path(row), image, metadata={**meta, "row": row})
                self.timer.add("write", t0)

            if writer is None:
                job()
            else:
                futures.append(writer.submit(job))
        for f in futures:
            f.result()

    def _write_volume(self, rec: np.ndarray, keep: np.ndarray, rows: np.ndarray) -> None:
        """Write the block's rows still to do as slabs (z = index in ``plan.rows``)."""
        z_of = np.searchsorted(self.plan.rows, rows)
        todo = [i for i, r in enumerate(rows) if int(r) not in self.skip_rows]
        t0 = time.perf_counter()
        while todo:  # contiguous runs: skipped rows are whole chunk layers
            n = next((k for k in range(1, len(todo)) if todo[k] != todo[0] + k), len(todo))
            run, todo = todo[:n], todo[n:]
            data = rec[keep[run[0] : run[-1] + 1]].astype(self.plan.out_dtype, copy=False)
            self.volume.write_slab(int(z_of[run[0]]), data)
        self.timer.add("write", t0)

    # ------------------------------------------------------------------ store
    def _store_rows(self) -> np.ndarray:
        """Contiguous detector rows the store must hold for the final rows and the proj steps."""
        plan = self.plan
        m = self._bilateral_margin() * (int(plan.rows[1] - plan.rows[0]) if plan.rows.size > 1 else 1)
        margin = m + max(s.row_margin for s in self.proj_steps)
        lo = max(0, int(plan.rows[0]) - margin)
        hi = min(plan.meta.nslices, int(plan.rows[-1]) + margin + 1)
        return np.arange(lo, hi)

    def prepare_store(self) -> Path:
        """Run the sinogram steps into a temporary store, then the projection steps in place."""
        import h5py

        from ..io.outputs import work_store_path

        plan = self.plan
        rows = self._store_rows()
        self.store_path = work_store_path(plan.output_dir, plan.prefix)
        self.store_row0 = int(rows[0])
        plan.output_dir.mkdir(parents=True, exist_ok=True)
        blocks = block_ranges(rows.size, plan.params.chunk_sino)
        bar = _progress_bar(len(blocks), f"pre-process {plan.path.name}", self.progress)
        with self._open_scan() as scan, h5py.File(self.store_path, "w") as store:
            dset = None
            for start, end in blocks:
                block = self._sino_block(scan, rows[start:end])
                if dset is None:
                    nproj, _, width = block.data.shape
                    dset = store.create_dataset(
                        "data",
                        shape=(nproj, rows.size, width),
                        dtype="f4",
                        chunks=(1, min(rows.size, plan.params.chunk_sino), width),
                    )
                t0 = time.perf_counter()
                dset[:, start:end, :] = block.data
                self.timer.add("store", t0)
                bar.update(1)
            bar.close()
            for step in self.proj_steps:
                self._proj_pass(dset, step)
        return self.store_path

    def _proj_pass(self, dset, step: Step) -> None:
        plan = self.plan
        chunks = block_ranges(dset.shape[0], plan.params.chunk_proj)
        bar = _progress_bar(len(chunks), f"{step.name} {plan.path.name}", self.progress)
        for start, end in chunks:
            t0 = time.perf_counter()
            data = dset[start:end]
            self.timer.add("store", t0)
            t0 = time.perf_counter()
            block = Block(data=data, rows=np.arange(dset.shape[1]) + self.store_row0, proj=np.arange(start, end))
            out = _check(step.run(block, plan), step.name)
            self.timer.add("prep", t0)
            t0 = time.perf_counter()
            dset[start:end] = out
            self.timer.add("store", t0)
            bar.update(1)
        bar.close()

    def _read_store(self, rows: np.ndarray) -> np.ndarray:
        import h5py

        row0 = self.store_row0
        with h5py.File(self.store_path, "r") as store:
            idx = rows - row0
            step = int(idx[1] - idx[0]) if idx.size > 1 else 1
            return store["data"][:, int(idx[0]) : int(idx[-1]) + 1 : step, :]

    def remove_store(self) -> None:
        """Delete the temporary store (safe to call twice)."""
        path, self.store_path = self.store_path, None
        if path is not None:
            Path(path).unlink(missing_ok=True)


def _check(data: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(data, np.ndarray) or data.ndim != 3:
        raise ReconstructionError(f"step {name} returned {type(data).__name__}, expected a 3-D array")
    if data.dtype != np.float32:
        data = data.astype(np.float32)
    return data


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="chunk", leave=False)
