from alsmicroct.apps.recon_parameters import main

raise SystemExit(main())
