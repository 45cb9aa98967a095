"""load_config: a config file says what it means or is refused, naming the file and the field (a
key given twice, a boolean where a number is wanted, a number that is not finite)."""

from __future__ import annotations

import ast
import json
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from schemas.config import load_config
from schemas.errors import ConfigError


class Mode(StrEnum):
    FAST = "fast"
    SLOW = "slow"


class Http(BaseModel):
    max_retries: int = Field(3, ge=0)
    timeout_s: float = Field(10.0, gt=0)
    verify: bool = True


class Cfg(BaseModel):
    workers: int = 4
    size: tuple[int, int] = (64, 48)
    mode: Mode = Mode.FAST
    weights: list[float] = Field(default_factory=lambda: [1.0, 2.0])
    http: Http = Field(default_factory=Http)


def _load(tmp_path, text, suffix=".yaml", **overrides):
    p = tmp_path / f"cfg{suffix}"
    p.write_text(text)
    return load_config(Cfg, p, **overrides)


def test_a_file_of_every_kind_of_field_still_loads(tmp_path):
    text = "workers: 2\nsize: [32, 16]\nmode: slow\nweights: [1, 0.5]\nhttp: {timeout_s: 3, verify: no}\n"
    cfg = _load(tmp_path, text)
    assert (cfg.workers, cfg.size, cfg.mode, cfg.weights) == (2, (32, 16), Mode.SLOW, [1.0, 0.5])
    assert cfg.http == Http(timeout_s=3.0, verify=False)
    assert _load(tmp_path, json.dumps({"http": {"verify": True}}), ".json").http.verify is True


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("http:\n  max_retries: no\n", "http.max_retries"),
        ("workers: on\n", "workers"),
        ("http:\n  timeout_s: yes\n", "http.timeout_s"),
        ("weights: [1.0, true]\n", "weights.1"),
        ("size: [32, false]\n", "size.1"),
    ],
)
def test_a_boolean_where_a_number_is_wanted_is_refused(tmp_path, text, field):
    with pytest.raises(ConfigError, match=f"field '{field}': (True|False) is a boolean, not a number") as exc:
        _load(tmp_path, text)
    assert "cfg.yaml" in str(exc.value)


def test_a_boolean_given_as_an_override_is_not_the_files_fault(tmp_path):
    assert _load(tmp_path, "mode: slow\n", workers=True).workers == 1  # the caller's value, as before


@pytest.mark.parametrize(
    ("text", "suffix", "field"),
    [
        ("http:\n  timeout_s: .inf\n", ".yaml", "http.timeout_s"),
        ("weights: [1.0, .nan]\n", ".yaml", "weights.1"),
        ('{"http": {"timeout_s": Infinity}}', ".json", "http.timeout_s"),
        ('{"weights": [NaN]}', ".json", "weights.0"),
        # forms YAML keeps as text, which pydantic then reads as a number (mf config show printed
        # .inf, and refused its own output)
        ("http:\n  timeout_s: 1e309\n", ".yaml", "http.timeout_s"),
        ('http:\n  timeout_s: "inf"\n', ".yaml", "http.timeout_s"),
        ('weights: [1.0, "nan"]\n', ".yaml", "weights.1"),
        ('{"weights": ["-inf"]}', ".json", "weights.0"),
    ],
)
def test_a_number_that_is_not_finite_is_refused(tmp_path, text, suffix, field):
    with pytest.raises(ConfigError, match=f"field '{field}': .* is not a finite number"):
        _load(tmp_path, text, suffix)


@pytest.mark.parametrize(
    ("text", "suffix", "words"),
    [
        (
            "http:\n  max_retries: 5\nhttp:\n  timeout_s: 2.0\n",
            ".yaml",
            r"key 'http' is given twice \(line 3\)",
        ),
        ("http:\n  max_retries: 5\n  max_retries: 6\n", ".yaml", "key 'max_retries' is given twice"),
        ('{"http": {"max_retries": 5}, "http": {"timeout_s": 2.0}}', ".json", "key 'http' is given twice"),
    ],
)
def test_a_key_given_twice_is_refused(tmp_path, text, suffix, words):
    with pytest.raises(ConfigError, match=words) as exc:
        _load(tmp_path, text, suffix)
    assert f"cfg{suffix}" in str(exc.value)


def test_a_yaml_merge_key_may_still_be_overridden(tmp_path):
    text = "base: &b {max_retries: 5, timeout_s: 2.0}\nhttp:\n  <<: *b\n  timeout_s: 3.0\n"
    assert _load(tmp_path, text).http == Http(max_retries=5, timeout_s=3.0)


def test_a_config_nested_too_deeply_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nested too deeply") as exc:
        _load(tmp_path, '{"weights": ' + "[" * 100_000 + "]" * 100_000 + "}", ".json")
    assert "cfg.json" in str(exc.value)


def test_a_non_finite_override_written_as_text_names_the_option(tmp_path):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "workers: 2\n", weights=["nan"])
    assert err.value.where == "--weights" and "not a finite number" in str(err.value)


def test_a_named_pipe_or_a_device_given_as_the_config_is_refused_without_waiting(tmp_path):
    import os

    fifo = tmp_path / "cfg.yaml"
    os.mkfifo(fifo)  # no writer: reading it would wait forever
    with pytest.raises(ConfigError, match="config file is a named pipe, not a file"):
        load_config(Cfg, fifo)
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")  # endless
    with pytest.raises(ConfigError, match="not a file"):
        load_config(Cfg, zero)


def test_a_config_that_is_no_mapping_says_what_it_is_and_what_to_write(tmp_path):
    with pytest.raises(ConfigError, match="mapping of settings, not a list") as err:
        _load(tmp_path, "- 1\n- 2\n")
    assert "key: value" in str(err.value)


def test_seconds_past_what_a_timer_can_wait_are_forever(monkeypatch):
    import math

    from schemas.config import env_seconds

    monkeypatch.setenv("MF_TEST_WAIT_S", "1e300")  # threading refused it with an OverflowError
    assert env_seconds("MF_TEST_WAIT_S", 10.0, "hint") == math.inf
    monkeypatch.setenv("MF_TEST_WAIT_S", "12.5")
    assert env_seconds("MF_TEST_WAIT_S", 10.0, "hint") == 12.5


def test_a_decode_device_the_readers_do_not_know_is_refused_naming_the_variable(monkeypatch):
    from schemas.config import DECODE_DEVICE_ENV, env_decode_device

    for value, want in (("", "cpu"), ("CUDA", "cuda"), ("auto", "auto")):
        monkeypatch.setenv(DECODE_DEVICE_ENV, value)
        assert env_decode_device() == want
    monkeypatch.setenv(DECODE_DEVICE_ENV, "bananas")
    with pytest.raises(ConfigError) as err:
        env_decode_device()
    assert err.value.where == "MF_DECODE_DEVICE" and "use cpu, cuda, auto" in str(err.value)


def test_an_error_never_echoes_a_whole_value():
    from schemas.errors import short_repr

    bomb: list = ["x"] * 10
    for _ in range(8):  # 10**8 leaves: repr() of it would be gigabytes
        bomb = [bomb] * 10
    text = short_repr(bomb)
    assert len(text) <= 80 and text.startswith("[[[")
    assert short_repr("short") == "'short'"


def test_an_integer_from_the_environment_is_checked_naming_the_variable(monkeypatch):
    """WORLD_SIZE=abc crashed phase-2 training with a bare ValueError after the feature bank."""
    from movingfashion.seam.train import _dist_env
    from schemas.config import env_int

    monkeypatch.delenv("MF_TEST_N", raising=False)
    assert env_int("MF_TEST_N", 3, 1, "hint") == 3
    monkeypatch.setenv("MF_TEST_N", " 4 ")
    assert env_int("MF_TEST_N", 3, 1, "hint") == 4
    for bad in ("abc", "0", "1.5"):
        monkeypatch.setenv("MF_TEST_N", bad)
        with pytest.raises(ConfigError, match=rf"^MF_TEST_N: '{bad}' is not an integer >= 1"):
            env_int("MF_TEST_N", 3, 1, "hint")
    monkeypatch.setenv("WORLD_SIZE", "abc")
    with pytest.raises(ConfigError, match="WORLD_SIZE: 'abc' is not an integer >= 1 .*torchrun"):
        _dist_env()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # an alias inside the node it names: every walk of the data went round for ever (mf config
        # show, and every command's --config, hung)
        ("workers: 2\nhttp: &h {max_retries: 1, again: *h}\n", "refers to a node that holds it"),
        ("weights: &w [1.0, *w]\n", "refers to a node that holds it"),
        # an alias bomb: eight short lines standing for 9**8 values, each walked by the checks
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
            ),
            "expand to more than 1,000,000 values",
        ),
    ],
)
def test_a_yaml_alias_that_loops_or_explodes_is_refused_naming_the_file(tmp_path, text, words):
    from schemas.config import read_config_data

    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=words) as exc:
        read_config_data(p)  # before any check walks the data
    assert str(exc.value).startswith(f"{p}: ") and "by alias" in str(exc.value)
    with pytest.raises(ConfigError, match=words):
        load_config(Cfg, p)


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('workers: "8"\n', "workers", "is text, not a number"),
        ("http:\n  read_timeout_s: '30'\n", "http.read_timeout_s", "is text, not a number"),
        ("max_failed_runs: 99999999999999999999999999\n", "max_failed_runs", "past the largest integer"),
    ],
)
def test_a_number_given_as_text_or_past_int64_is_refused_naming_the_field(tmp_path, text, field, words):
    from collectors.config import CollectConfig

    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(CollectConfig, path)
    assert f"field '{field}'" in str(err.value) and words in str(err.value)
    assert str(path) in str(err.value)


def test_an_exponent_without_a_dot_is_the_number_it_reads_as_a_quoted_one_is_text(tmp_path):
    """``lr: 1e-4`` (text to YAML 1.1) is a float, so refusing quoted numbers does not refuse it."""
    from movingfashion.seam.config import TrainConfig

    path = tmp_path / "t.yaml"
    path.write_text("lr: 1e-4\n")
    assert load_config(TrainConfig, path).lr == pytest.approx(1e-4)
    path.write_text('lr: "1e-4"\n')
    with pytest.raises(ConfigError, match=r"field 'lr': '1e-4' is text, not a number"):
        load_config(TrainConfig, path)


@pytest.mark.parametrize("value", ["1e26", "99999999999999999999999999", "1e18", "20000000"])
def test_an_absurd_probe_min_frames_is_refused(tmp_path, value):
    from cleaning.config import CleaningConfig

    path = tmp_path / "c.yaml"
    path.write_text(f"probe:\n  min_frames: {value}\n")
    with pytest.raises(ConfigError, match=r"probe\.min_frames"):
        load_config(CleaningConfig, path)


def test_every_yaml_the_toolkit_reads_goes_through_its_one_safe_loader():
    """``yaml.safe_load`` takes an alias bomb and keeps the last of a key given twice without a
    word; the DeepFashion2 converter's data.yaml check and ``flag_fit --set`` used it. Every YAML
    read of the toolkit's modules goes through :func:`schemas.config.load_yaml` now."""
    root = Path(__file__).resolve().parents[2]
    plain = []
    for pkg in ("schemas", "collectors", "cleaning", "annotations", "movingfashion"):
        for path in sorted((root / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if "yaml" not in text:  # parse only the files that could load YAML (cheap)
                continue
            for node in ast.walk(ast.parse(text)):
                name = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
                loads = name.startswith("yaml.") and "load" in name.split(".")[-1]
                if loads:
                    plain.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
                if isinstance(node, ast.ImportFrom) and node.module == "yaml":
                    plain.extend(
                        f"{path.relative_to(root)}:{node.lineno}: from yaml import {a.name}"
                        for a in node.names
                        if "load" in a.name
                    )
    assert plain == [], plain
