"""The cleaning config's checks of field combinations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cleaning.config import DedupConfig
from cleaning.steps.registry import load_cleaning_config
from schemas.errors import ConfigError


@pytest.mark.parametrize("chunks,radius", [(1, 7), (4, 32), (2, 10), (3, 18)])
def test_an_index_that_would_list_too_many_probes_is_refused(chunks, radius):
    with pytest.raises(
        ValidationError, match=f"dedup.index_chunks {chunks} with dedup.index_radius {radius}"
    ):
        DedupConfig(index_chunks=chunks, index_radius=radius)


@pytest.mark.parametrize("chunks,radius", [(4, 7), (1, 3), (2, 9), (3, 17), (4, 27), (5, 32), (16, 32)])
def test_index_settings_within_the_limit_are_accepted(chunks, radius):
    cfg = DedupConfig(index_chunks=chunks, index_radius=radius)
    assert (cfg.index_chunks, cfg.index_radius) == (chunks, radius)


def test_a_config_file_with_one_index_chunk_is_refused_naming_the_file_and_the_fields(tmp_path):
    path = tmp_path / "clean.yaml"
    path.write_text("dedup: {index_chunks: 1}\n")
    with pytest.raises(ConfigError) as exc:
        load_cleaning_config(path)
    msg = str(exc.value)
    assert "clean.yaml" in msg and "field 'dedup'" in msg
    assert "dedup.index_chunks 1 with dedup.index_radius 7" in msg and "raise index_chunks" in msg


@pytest.mark.parametrize("scales", ["[1.5]", "[0.9, 0]", "[-1]"])
def test_a_window_scale_outside_0_1_is_refused_naming_the_file_and_the_key(tmp_path, scales):
    """A scale above 1 failed every video of `mf clean` (IndexError), one of 0 hashed 1-pixel
    windows: both are refused before any work."""
    path = tmp_path / "clean.yaml"
    path.write_text(f"dedup: {{window_scales: {scales}}}\n")
    with pytest.raises(ConfigError) as exc:
        load_cleaning_config(path)
    assert "clean.yaml" in str(exc.value) and "window_scales" in str(exc.value)
