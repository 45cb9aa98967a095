"""The demo's tracklets step counted the videos with a whole read of the split files, so one
product whose entry the reader refuses (a bad box, a malformed number, a frame key twice) failed
the step before the build, which holds such a product out. Now the step follows the build's
policy (``on_bad="skip"``): the other products are built, the held-out one is named in the
section and the step is partial (the demo exits 1)."""

from __future__ import annotations

import pytest

import annotations.builder as builder_mod
import annotations.sheets as sheets_mod
from movingfashion.app.context import DemoContext
from movingfashion.app.steps import tracklets
from tests.annotations.test_build_unreadable_row import _bad_pa
from tests.annotations.test_reruns import FakeBuilder
from tests.damage import UNREADABLE_BOXES


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
def test_the_step_builds_the_others_and_names_the_product(tmp_path, monkeypatch, kind):
    ds = tmp_path / "ds"
    _bad_pa(ds, kind)
    monkeypatch.setattr(builder_mod, "_load_builder", lambda *a, **k: FakeBuilder())
    # the step draws contact sheets; these videos are stand-in bytes, so a sheet is a stand-in too
    monkeypatch.setattr(
        sheets_mod, "write_sheet", lambda root, vt, out, shared: out.write_bytes(b"sheet") and out
    )
    section = tracklets.run(DemoContext(work=tmp_path / "work", dataset=ds))
    assert section.processed == 1 and section.videos == 1
    (held,) = section.held_out
    for part in (str(ds / "train.json"), "product 'pa'", "frame key '1'"):
        assert part in held, held
    why = section.incomplete()
    assert why is not None and "1 held out" in why and "product 'pa'" in why
