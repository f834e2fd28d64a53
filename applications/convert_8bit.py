"""Convert folders of TIFF slices to 8 bit (alsmicroct-convert-8bit). See --help."""
from alsmicroct.apps.convert_8bit import main
raise SystemExit(main())
