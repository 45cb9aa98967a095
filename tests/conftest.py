"""Shared fixtures. The synthetic world fixtures live in tests/world_fixtures.py."""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

pytest_plugins = ["tests.world_fixtures"]
