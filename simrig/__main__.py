"""``python -m simrig``."""

from simrig.cli import main

main()
