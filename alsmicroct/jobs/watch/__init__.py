"""Live reconstruction: watch a raw-data folder, preview each finished scan within seconds,
then reconstruct it in full, from a queue that survives a crash (``alsmicroct-watch``).

- :mod:`.detect`: finished-file detection (stable, opens read-only, every announced image);
- :mod:`.queue`: the SQLite (WAL) queue, one row per scan and attempt;
- :mod:`.preview`: centre with its confidence, three slices, a centre sweep, a quick-look PNG;
- :mod:`.runners`: local process pool, Dask, SLURM (``sbatch batch/recon.slurm``);
- :mod:`.page`: the status page; :mod:`.service`: the loop tying them together.
"""

from __future__ import annotations

from .detect import Detector, check_complete
from .queue import DB_NAME, STATES, Attempt, Queue

__all__ = ["DB_NAME", "STATES", "Attempt", "Detector", "Queue", "check_complete"]
