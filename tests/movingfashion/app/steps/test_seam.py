"""The demo's SEAM step resumes its own killed runs and trains again a run it cannot resume."""

from __future__ import annotations

import pytest

import movingfashion.seam.train as train_module
from movingfashion.app.context import DemoContext
from movingfashion.app.steps.seam import _train_resuming
from schemas.errors import ConfigError


@pytest.fixture
def calls(monkeypatch):
    """run_phase2 as check_resume sees it: a last.pt from other settings cannot be resumed."""
    got: list[bool] = []

    def phase2(dataset, out, cfg, *, resume, **kw):
        held = (out / "last.pt").is_file()
        got.append(held)
        if held and (out / "last.pt").read_text() == "other settings":
            raise ConfigError(
                "cannot resume with other settings than the run was started with: lr", where=str(out)
            )
        out.mkdir(parents=True, exist_ok=True)
        (out / "last.pt").write_text("these settings")

    monkeypatch.setattr(train_module, "run_phase2", phase2)
    return got


def test_a_run_of_other_settings_is_trained_again_from_epoch_0(tmp_path, calls):
    out = tmp_path / "runs" / "full"
    out.mkdir(parents=True)
    (out / "last.pt").write_text("other settings")
    _train_resuming(DemoContext(work=tmp_path), out, None, None, tmp_path / "features")
    assert calls == [True, False] and (out / "last.pt").read_text() == "these settings"


def test_a_run_it_can_resume_is_resumed_once(tmp_path, calls):
    out = tmp_path / "runs" / "full"
    out.mkdir(parents=True)
    (out / "last.pt").write_text("these settings")
    _train_resuming(DemoContext(work=tmp_path), out, None, None, tmp_path / "features")
    assert calls == [True]


def test_an_error_without_a_run_to_blame_is_not_swallowed(tmp_path, monkeypatch):
    def phase2(*a, **kw):
        raise ConfigError("unknown matcher", where="--matcher")

    monkeypatch.setattr(train_module, "run_phase2", phase2)
    with pytest.raises(ConfigError, match="unknown matcher"):
        _train_resuming(DemoContext(work=tmp_path), tmp_path / "out", None, None, tmp_path / "features")
