"""``python -m collectors``: the same as ``mf-collect``."""

from collectors.cli import main

main()
