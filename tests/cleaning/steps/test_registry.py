"""The registry of cleaning steps, the check of a configured order, and the config fields."""

from __future__ import annotations

import pytest

from cleaning.config import DEFAULT_STEPS, CleaningConfig
from cleaning.steps.base import Step
from cleaning.steps.registry import STEPS, check_steps, load_cleaning_config, resolve_steps
from movingfashion.executors import EXECUTORS
from schemas.errors import ConfigError


def test_every_step_is_registered_under_its_name():
    assert STEPS, "no step registered"
    for name, cls in STEPS.items():
        assert issubclass(cls, Step) and cls.name == name
        assert set(cls.requires) <= set(STEPS), f"{name} requires an unknown step"


def test_the_default_order_runs_every_step_and_is_valid():
    assert set(DEFAULT_STEPS) == set(STEPS)
    assert [c.name for c in resolve_steps(list(DEFAULT_STEPS))] == list(DEFAULT_STEPS)
    assert CleaningConfig().steps == list(DEFAULT_STEPS)
    # associations read what record wrote; everything reading media needs the probe first
    assert DEFAULT_STEPS.index("record") < DEFAULT_STEPS.index("associations")
    assert all(
        DEFAULT_STEPS.index("probe") < DEFAULT_STEPS.index(n) for n in STEPS if "probe" in STEPS[n].requires
    )


@pytest.mark.parametrize(
    "names,message",
    [
        (["probe", "dedupe"], "unknown cleaning step 'dedupe'"),
        (["probe", "taxonomy", "probe"], "listed twice"),
        (["video_duplicates", "probe"], "'video_duplicates' needs probe earlier"),
        (["probe", "taxonomy", "associations"], "'associations' needs record earlier"),
        (["taxonomy", "record"], "'record' needs probe earlier"),
        # record writes every item's class: without the taxonomy it would wipe them
        (["probe", "video_duplicates", "record"], "'record' needs taxonomy earlier"),
    ],
)
def test_a_bad_step_list_is_refused(names, message):
    with pytest.raises(ValueError, match=message):
        resolve_steps(names)
    with pytest.raises(ConfigError, match=f"field 'steps': .*{message}"):
        check_steps(CleaningConfig(steps=names))


def test_a_step_can_be_left_out_and_others_reordered():
    names = ["taxonomy", "probe", "split_screen", "record"]
    assert [c.name for c in resolve_steps(names)] == names
    assert [c.name for c in check_steps(CleaningConfig(steps=names))] == names


def test_config_file_errors_name_the_file_and_the_field(tmp_path):
    bad = tmp_path / "clean.yaml"
    bad.write_text("steps: [probe, splitscreen, record]\n")
    with pytest.raises(ConfigError) as exc:
        load_cleaning_config(bad)
    assert "clean.yaml" in str(exc.value) and "'steps'" in str(exc.value) and "splitscreen" in str(exc.value)
    bad.write_text("executor: cluster\n")
    with pytest.raises(ConfigError, match="executor.*unknown executor 'cluster'"):
        load_cleaning_config(bad)
    assert "local" in EXECUTORS and CleaningConfig().executor == "local"
