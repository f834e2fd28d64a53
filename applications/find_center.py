from alsmicroct.cli.find_center import main

raise SystemExit(main())
