from alsmicroct.apps.recon_batch import main

raise SystemExit(main())
