"""Config models of the loader and AsymNet refuse what they would otherwise ignore or check late."""

from __future__ import annotations

import pytest

from movingfashion.sampling import QualityConfig
from movingfashion.seam.asymnet import AsymNetConfig
from schemas.config import load_config
from schemas.errors import ConfigError


def test_a_misspelt_quality_weight_is_refused_not_ignored():
    with pytest.raises(ValueError, match="w_confdence"):
        QualityConfig(w_confdence=0.0)
    assert QualityConfig(w_confidence=0.0).w_confidence == 0.0


def test_asymnet_on_bad_is_checked_when_the_file_is_read(tmp_path):
    path = tmp_path / "asym.yaml"
    path.write_text("on_bad: Skip\n")
    with pytest.raises(ConfigError) as exc:
        load_config(AsymNetConfig, path)
    assert "asym.yaml" in str(exc.value) and "on_bad" in str(exc.value)
    assert AsymNetConfig(on_bad="raise").on_bad == "raise"
