"""The collect config refuses what the HTTP layer cannot take, at load time, naming the field:
a `workers` of a billion sized the connection pool from it (6.5 GB and growing, deaf to SIGTERM),
timeouts past what a socket takes, a rate so low its wait overflowed, and values other stages
already refuse (an unknown executor, a 200 retried, a negative bandwidth cap)."""

from __future__ import annotations

import pytest

from collectors.config import MAX_WORKERS, CollectConfig
from schemas.config import load_config
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("workers: 1000000000\n", "workers"),
        ("http:\n  connect_timeout_s: 1.0e+10\n", "http.connect_timeout_s"),
        ("http:\n  read_timeout_s: 1.0e+10\n", "http.read_timeout_s"),
        ("http:\n  backoff_max_s: 1.0e+12\n", "http.backoff_max_s"),
        ("http:\n  rate_per_host: 1.0e-12\n", "http.rate_per_host"),
        ("http:\n  retry_statuses: [429, 200]\n", "http.retry_statuses.1"),
        ("tiktok:\n  ratelimit_bytes_s: -5\n", "tiktok.ratelimit_bytes_s"),
        ("urls:\n  ratelimit_bytes_s: 0\n", "urls.ratelimit_bytes_s"),
        ("executor: bananas\n", "executor"),
    ],
)
def test_a_value_the_http_layer_cannot_take_is_refused_naming_its_field(tmp_path, text, field):
    p = tmp_path / "collect.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(CollectConfig, p)
    assert str(err.value).startswith(f"{p}: field '{field}': "), str(err.value)
    assert "Value error" not in str(err.value)


def test_the_largest_accepted_values_load(tmp_path):
    p = tmp_path / "collect.yaml"
    p.write_text(
        f"workers: {MAX_WORKERS}\nexecutor: ray\nhttp:\n  connect_timeout_s: 86400\n"
        "  rate_per_host: 0.001\n  retry_statuses: [400, 599]\n"
    )
    cfg = load_config(CollectConfig, p)
    assert cfg.workers == MAX_WORKERS and cfg.http.retry_statuses == [400, 599]
