"""Centre-of-rotation estimates and a try-centre montage (alsmicroct-find-center). See --help."""
from alsmicroct.apps.find_center import main
raise SystemExit(main())
