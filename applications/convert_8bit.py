from alsmicroct.cli.convert_8bit import main

raise SystemExit(main())
