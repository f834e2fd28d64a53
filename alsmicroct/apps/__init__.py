"""Console programs of alsmicroct; each module has ``main(argv=None)``."""
