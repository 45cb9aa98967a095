"""Shared fixtures. The synthetic world fixtures live in tests/world_fixtures.py."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")
# no periodic progress lines in the tests' logs (inherited by the commands they run): a command
# slower than 10 s on a loaded machine would add lines to the stderr a test counts;
# tests/schemas/test_progress_lines.py sets its own period
os.environ["MF_PROGRESS_EVERY_S"] = "0"

pytest_plugins = ["tests.world_fixtures", "tests.ray_fixtures"]

# Property-based tests (hypothesis): the same examples on every run and machine, so the suite
# passes or fails the same any day; HYPOTHESIS_PROFILE=explore draws fresh random examples.
# No per-example deadline: on a loaded 2-core machine one example can take longer than
# hypothesis' 200 ms default, and a test must fail on its property, never on the clock.
from hypothesis import settings  # noqa: E402

settings.register_profile("mf", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mf"))


# Tests that start Ray (the session's local Ray, or heads and nodes of their own) run in one
# xdist group (`make test` passes --dist loadgroup): two local Ray instances started at once by
# the two workers competed, and a pool's actors waited past the 5 min stack dump (three times: the
# third beside a subprocess that started its own local Ray through ``ray_backend.connect``).
_RAY_MARKS = (
    "ray_fixtures",
    'make_executor("ray"',
    '"--executor", "ray"',
    'executor="ray"',
    "ray_backend.connect",
    "import ray",
)
_ray_modules: dict[str, bool] = {}


def _starts_ray(item) -> bool:
    """Whether ``item`` uses the session's Ray or its module starts Ray itself."""
    if {"ray_session", "ray_session_address"} & set(getattr(item, "fixturenames", ())):
        return True
    path = str(item.path)
    if path not in _ray_modules:
        text = item.path.read_text(encoding="utf-8") if item.path.suffix == ".py" else ""
        _ray_modules[path] = "ray" in item.path.name or any(m in text for m in _RAY_MARKS)
    return _ray_modules[path]


def pytest_configure(config) -> None:
    """One torch thread in every test process. `make test` runs two processes on two cores; every
    test sees the same count whatever ran before it in its process (ultralytics' first CPU
    predict used to lower it to min(8, cores - 1) in mid-run; the detector now puts it back); and
    it is a Ray worker's count (one CPU per task), so local and Ray results compare byte for byte
    (tests/annotations/test_ray.py). Commands the tests run keep torch's default."""
    import torch

    torch.set_num_threads(1)
    config.args[:] = [_without_group(a) for a in config.args]
    lf = config.pluginmanager.get_plugin("lfplugin")
    if lf is not None:  # the failures of a run with -n stored with their group: --lf without -n
        lf.lastfailed = {type(k).parse(_without_group(str(k))): v for k, v in lf.lastfailed.items()}


def _without_group(arg: str) -> str:
    """``arg`` without the ``@<group>`` suffix that :func:`_join_group` gives a node id under
    ``--dist loadgroup`` (``tests/x.py::test_y@ray``, as a failed ``make test`` prints it): such
    an id selects its test, where pytest alone answered 'not found'."""
    head, sep, name = arg.rpartition("::")
    at = name.rfind("@")
    return head + sep + name[:at] if sep and at > name.rfind("]") else arg


def _join_group(item, name: str) -> None:
    """Puts ``item`` in xdist group ``name``. Under ``--dist loadgroup`` the scheduler groups the
    tests by an ``@<group>`` suffix of their node ids, which pytest-xdist 3.8 writes to
    ``item._nodeid`` from the marks it sees; pytest 9 keeps the node id in ``item._id`` (and
    xdist looks before this hook adds marks), so every test was handed out alone: the suffix is
    written here."""
    item.add_marker(pytest.mark.xdist_group(name))
    nodeid = item.nodeid
    if getattr(item.config.option, "loadgroup", False) and nodeid.rfind("@") <= nodeid.rfind("]"):
        item._id = type(item._id).parse(f"{nodeid}@{name}")


def _uses_module_fixture(item) -> bool:
    """Whether ``item`` uses a fixture built once per module, class or package."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d.scope in ("module", "class", "package") for seq in defs for d in seq)


def pytest_collection_modifyitems(config, items) -> None:
    """Groups for ``--dist loadgroup``: the tests that start Ray in one group; the other tests of
    a module that use a fixture built once per module in one group per module (handed out
    alone, they alternated between the two workers and both built the module's fixture: a
    published archive, a trained model, up to 40 s each). ``--lf``/``--ff`` select a grouped test
    whether the run that failed it had groups (``-n``) or not: the failures are stored without the
    group (:func:`pytest_configure`) and given the test's grouped id here."""
    lf = config.pluginmanager.get_plugin("lfplugin")
    failed = lf.lastfailed if lf is not None else {}
    for item in items:
        if _starts_ray(item):
            _join_group(item, "ray")
        elif _uses_module_fixture(item):
            _join_group(item, f"module:{item.nodeid.split('::')[0]}")
        else:
            continue
        plain = type(item.id).parse(_without_group(str(item.id)))
        if plain != item.id and plain in failed:  # --lf / --ff (which filter after this hook)
            failed[item.id] = failed.pop(plain)


@pytest.fixture
def split_loads(monkeypatch) -> list[str]:
    """The split files parsed (``schemas.official._load``) from here on, by name."""
    from schemas import official

    seen: list[str] = []
    real = official._load
    monkeypatch.setattr(official, "_load", lambda p: seen.append(os.path.basename(p)) or real(p))
    return seen
