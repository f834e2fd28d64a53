from alsmicroct.apps.recon_spreadsheet import main

raise SystemExit(main())
