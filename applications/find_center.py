from alsmicroct.apps.find_center import main

raise SystemExit(main())
