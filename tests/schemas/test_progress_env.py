"""``$MF_PROGRESS_EVERY_S``: seconds >= 0, ``0`` or ``inf`` for no lines; anything else is a
ConfigError naming the variable (as ``$MF_LOCK_WAIT_S``). Before, ``abc``, ``-5``, ``nan`` and
``inf`` silently gave the default 10 s (``inf``, "never", printed a line every 10 s)."""

from __future__ import annotations

import io

import pytest

from schemas.errors import ConfigError
from schemas.progress_lines import EVERY_ENV, EVERY_S, LineProgress, every_s


@pytest.mark.parametrize(("raw", "period"), [("", EVERY_S), ("2.5", 2.5), (" 0 ", 0.0), ("inf", 0.0)])
def test_a_valid_value_sets_the_period(monkeypatch, raw, period):
    monkeypatch.setenv(EVERY_ENV, raw)
    assert every_s() == period


def test_unset_is_the_default(monkeypatch):
    monkeypatch.delenv(EVERY_ENV, raising=False)
    assert every_s() == EVERY_S


@pytest.mark.parametrize("raw", ["abc", "-5", "nan", "-inf", "10s"])
def test_a_bad_value_is_a_config_error_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(EVERY_ENV, raw)
    with pytest.raises(ConfigError, match=rf"^{EVERY_ENV}: '{raw}' is not a number of seconds >= 0"):
        every_s()


def test_inf_starts_no_timer(monkeypatch):
    monkeypatch.setenv(EVERY_ENV, "inf")
    out = io.StringIO()
    bar = LineProgress(desc="videos", total=2, file=out)
    assert bar._timer is None
    bar.update(2)
    bar.close()
    assert out.getvalue() == ""


def test_a_bar_is_not_started_with_a_bad_value(monkeypatch):
    monkeypatch.setenv(EVERY_ENV, "abc")
    with pytest.raises(ConfigError, match=EVERY_ENV):
        LineProgress(desc="videos", total=2, file=io.StringIO())


def test_a_command_refuses_a_bad_value_at_its_start(monkeypatch, capsys):
    """Before any work, whether stderr is a terminal or not (the bar would only read it on a log)."""
    import click
    import pytest

    from schemas.cli_support import run_main

    ran = []

    @click.command()
    def work() -> None:
        ran.append(1)

    monkeypatch.setenv("MF_PROGRESS_EVERY_S", "abc")
    with pytest.raises(SystemExit) as done:
        run_main(work, [])
    assert done.value.code == 2 and ran == []
    assert "MF_PROGRESS_EVERY_S" in capsys.readouterr().err
