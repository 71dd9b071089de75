"""simrig — charging-pile firmware simulator and test rig."""

__version__ = "0.1.0"
