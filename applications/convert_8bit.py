from alsmicroct.apps.convert_8bit import main

raise SystemExit(main())
