"""One reconstruction per row of a .csv/.xlsx sheet (alsmicroct-recon-spreadsheet). See --help."""
from alsmicroct.apps.recon_spreadsheet import main
raise SystemExit(main())
