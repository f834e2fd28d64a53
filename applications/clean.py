from alsmicroct.cli.clean import main

raise SystemExit(main())
