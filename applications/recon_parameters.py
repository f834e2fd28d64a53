from alsmicroct.cli.recon_parameters import main

raise SystemExit(main())
