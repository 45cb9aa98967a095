"""``$MF_NATIVE_LOGS`` is a boolean: ``1/true/yes`` keep the native loggers, ``0/false/no`` or
unset manage them; any other value is warned about once (a log record naming the variable:
this is read inside workers, where raising would fail an item) and managed. Before, any
non-empty value, ``0`` and ``false`` included, kept them: the opposite of what was written."""

from __future__ import annotations

import logging

import pytest

from movingfashion.media import logs


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(logs, "_done", set())


@pytest.mark.parametrize("raw", ["1", "true", "YES", " yes "])
def test_true_values_keep_the_native_logs(monkeypatch, raw):
    monkeypatch.setenv(logs.KEEP_ENV, raw)
    assert logs.keep_native_logs() is True
    assert logs._once("x") is False


@pytest.mark.parametrize("raw", ["0", "false", "No", "", None])
def test_false_values_and_unset_manage_them(monkeypatch, raw, caplog):
    if raw is None:
        monkeypatch.delenv(logs.KEEP_ENV, raising=False)
    else:
        monkeypatch.setenv(logs.KEEP_ENV, raw)
    assert logs.keep_native_logs() is False
    assert logs._once("x") is True and logs._once("x") is False
    assert not caplog.records


def test_another_value_is_warned_about_once_and_managed(monkeypatch, caplog):
    monkeypatch.setenv(logs.KEEP_ENV, "debug")
    with caplog.at_level(logging.WARNING, logger=logs.__name__):
        assert logs.keep_native_logs() is False
        assert logs.keep_native_logs() is False
    assert len(caplog.records) == 1
    assert "MF_NATIVE_LOGS='debug'" in caplog.records[0].getMessage()


def test_quiet_native_logs_silences_opencv_with_0(monkeypatch):
    monkeypatch.setenv(logs.KEEP_ENV, "0")
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    logs.quiet_native_logs()
    assert logs.os.environ.get("OPENCV_LOG_LEVEL") == "SILENT"
