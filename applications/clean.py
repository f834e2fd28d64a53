from alsmicroct.apps.clean import main

raise SystemExit(main())
