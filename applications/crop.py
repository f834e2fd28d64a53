from alsmicroct.apps.crop import main

raise SystemExit(main())
