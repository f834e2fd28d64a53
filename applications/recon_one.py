from alsmicroct.cli.recon_one import main

raise SystemExit(main())
