"""DatasetInfo: the urls a published dataset links to (card, Croissant) are web addresses; a
``mf publish --config`` holding another value is refused, naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cleaning.steps.registry import load_cleaning_config
from schemas.dataset import DatasetInfo
from schemas.errors import ConfigError

NOT_WEB = [
    "javascript:alert(document.cookie)",
    "data:text/html,<b>x</b>",
    "example.org/dataset",  # no scheme
    "https://",  # no host
    "https://example.org/<img src=x onerror=alert(1)>",
    'https://example.org/" onmouseover="x',
    "https://example.org/a b",
    "https://example.org/a\nb",
]


@pytest.mark.parametrize("value", NOT_WEB)
@pytest.mark.parametrize("field", ["url", "license_url"])
def test_a_url_that_is_not_a_web_address_is_refused(field, value):
    with pytest.raises(ValidationError) as exc:
        DatasetInfo(**{field: value})
    err = exc.value.errors()[0]
    assert err["loc"] == (field,) and "https://" in err["msg"]


@pytest.mark.parametrize("value", NOT_WEB)
def test_a_creators_url_is_a_web_address_too(value):
    with pytest.raises(ValidationError) as exc:
        DatasetInfo(creators=[{"name": "Lab", "url": value}])
    assert exc.value.errors()[0]["loc"] == ("creators", 0, "url")


@pytest.mark.parametrize(
    "value",
    ["https://arxiv.org/abs/2110.02627", "http://example.org", "HTTPS://Example.org/a_(b)?q=1&r=%20#s"],
)
def test_web_addresses_are_kept_as_written(value):
    info = DatasetInfo(url=value, license_url=value, creators=[{"name": "Lab", "url": value}])
    assert info.url == info.license_url == info.creators[0].url == value


def test_the_defaults_are_web_addresses():
    info = DatasetInfo()
    assert DatasetInfo.model_validate(info.model_dump()) == info


def test_a_publish_config_with_a_script_url_names_the_field(tmp_path):
    cfg = tmp_path / "publish.yaml"
    cfg.write_text("dataset:\n  license_url: 'javascript:alert(1)'\n")
    with pytest.raises(ConfigError) as exc:
        load_cleaning_config(cfg)  # what mf publish --config reads
    assert "dataset.license_url" in str(exc.value) and "javascript:alert(1)" in str(exc.value)
