"""Reconstruct one raw scan (alsmicroct-recon). See --help."""
from alsmicroct.apps.recon_one import main
raise SystemExit(main())
