from alsmicroct.apps.recon_one import main

raise SystemExit(main())
