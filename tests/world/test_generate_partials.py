"""``mf world generate`` over a world cut short removes the partial files its killed writers
left (so the world ends byte-identical to an uninterrupted one); a live writer's file stays."""

from __future__ import annotations

import json

import pytest

import movingfashion.world.generate as generate
from movingfashion.world.config import WorldConfig
from movingfashion.world.generate import PARAMS_FILE, generate_world
from tests.movingfashion.archive.test_pack_partials import leftovers


class Stop(BaseException):
    """Ends the run once the sweep is done (rendering is not what is tested)."""


def test_a_cut_short_worlds_partial_files_are_swept(tmp_path, monkeypatch):
    out = tmp_path / "w"
    out.mkdir()
    # a world cut short, started with the parameters of this run (other ones are refused)
    (out / PARAMS_FILE).write_text(json.dumps(generate._params(24, 0, True, WorldConfig())))
    dead, live = leftovers(out / "gt", "Cs8necMa2my.json")

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(generate, "atomic_write_json", stop)  # the first write after the sweep
    with pytest.raises(Stop):
        generate_world(out, 24, 0, quick=True, workers=1)
    assert not dead.exists() and live.exists()
