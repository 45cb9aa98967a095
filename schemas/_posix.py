"""Refuse to import on a system that is not POSIX, with a message that says what to do.

The toolkit locks files with ``fcntl.flock`` and keeps decoders safe across ``fork`` with
``os.register_at_fork``; neither exists on Windows, where the first import would otherwise die
on ``No module named 'fcntl'``. Linux and macOS are supported; on Windows, WSL2 runs it.
"""

from __future__ import annotations

import os

if os.name != "posix":
    raise ImportError(
        "the MovingFashion toolkit needs a POSIX system (Linux or macOS): it uses fcntl file locks "
        "and fork hooks, which Windows lacks; on Windows, run it inside WSL2"
    )
