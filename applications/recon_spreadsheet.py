from alsmicroct.cli.recon_spreadsheet import main

raise SystemExit(main())
