"""Every command-line program of alsmicroct; each module has ``main(argv=None)`` returning the
exit status. Console scripts (``alsmicroct-*``) and ``applications/*.py`` call these; the
library below never imports this package."""
