"""Run an old-style input832.txt parameter file (alsmicroct-recon-parameters). See --help."""
from alsmicroct.apps.recon_parameters import main
raise SystemExit(main())
