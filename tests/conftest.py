"""Shared fixtures. The synthetic world fixtures live in tests/world_fixtures.py."""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

pytest_plugins = ["tests.world_fixtures", "tests.ray_fixtures"]

# Property-based tests (hypothesis): the same examples on every run and machine, so the suite
# passes or fails the same any day; HYPOTHESIS_PROFILE=explore draws fresh random examples.
from hypothesis import settings  # noqa: E402

settings.register_profile("mf", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mf"))
