"""The lock file covers every declared dependency, carries hashes, and is what is installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _locked() -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) from requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\;]+)", block)
        if m:
            pins[canonicalize_name(m.group(1))] = (Version(m.group(2)), block.count("--hash=sha256:"))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_every_declared_dependency_is_pinned_within_its_range_with_hashes():
    pins = _locked()
    assert pins, "requirements.lock holds no pins"
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, (
            f"{req.name} is declared in pyproject.toml but not in requirements.lock: run make lock"
        )
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside pyproject's {req.specifier}: run make lock"
        )
    assert all(h > 0 for _, h in pins.values()), "every pin must carry a sha256 hash"


def test_torch_pins_are_the_ones_on_local_disk():
    pins = _locked()
    assert str(pins["torch"][0]) == "2.14.1" and str(pins["torchvision"][0]) == "0.29.1"


def test_the_environment_is_the_lock():
    """What runs the tests is what the lock says (catches an install that bypassed it)."""
    drift = []
    for name, (version, _) in _locked().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            drift.append(f"{name} missing (lock {version})")
            continue
        if installed != version:
            drift.append(f"{name} {installed} (lock {version})")
    assert not drift, "installed packages differ from requirements.lock: " + ", ".join(drift)
