"""The incident library as a test module: ``pytest --pyargs simrig.testing``."""
