"""Reconstruct every scan of a path list (alsmicroct-recon-batch). See --help."""
from alsmicroct.apps.recon_batch import main
raise SystemExit(main())
