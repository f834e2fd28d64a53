from alsmicroct.cli.crop import main

raise SystemExit(main())
