"""``python -m alsmicroct.sim``: the simulator's command line (:mod:`alsmicroct.cli.sim`)."""

from ..cli.sim import main

if __name__ == "__main__":
    raise SystemExit(main())
