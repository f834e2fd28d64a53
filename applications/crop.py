"""Crop folders of TIFF slices (alsmicroct-crop). See --help."""
from alsmicroct.apps.crop import main
raise SystemExit(main())
