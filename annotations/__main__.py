"""``python -m annotations``: the same as ``mf-tracklets``."""

from annotations.cli import main

main()
