from alsmicroct.cli.recon_batch import main

raise SystemExit(main())
