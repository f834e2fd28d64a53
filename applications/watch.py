from alsmicroct.cli.watch import main

raise SystemExit(main())
