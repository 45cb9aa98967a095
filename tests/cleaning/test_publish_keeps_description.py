"""A rerun of `mf publish` without a `dataset:` section keeps the description the folder's
manifest recorded (licence, version...), as mf-tracklets' refresh does; a `dataset:` section that
changes it wins, field by field, and says which fields on stderr."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner

from cleaning.cli import publish as publish_cmd
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.dataset import DatasetInfo

BY = "https://creativecommons.org/licenses/by/4.0/"


def _described(out) -> tuple[tuple[str, str, str], dict]:
    doc = json.loads((out / "croissant.json").read_text())
    return (doc["name"], doc["license"], doc["version"]), json.loads((out / "manifest.json").read_text())[
        "dataset"
    ]


def test_a_plain_rerun_keeps_the_recorded_description(cleaned_world, catalog_copy, tmp_path):
    out, cfg, other = tmp_path / "ds", tmp_path / "pub.yaml", tmp_path / "seed.yaml"
    cfg.write_text(
        f"dataset:\n  name: myfashion\n  license: cc-by-4.0\n  license_url: {BY}\n  version: 2.3.0\n"
    )
    other.write_text("split_seed: 0\n")  # a config without a dataset: section
    base = ["--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    res = CliRunner().invoke(publish_cmd, [*base, "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    first, recorded = _described(out)
    assert first == ("myfashion", BY, "2.3.0") and recorded["license"] == "cc-by-4.0"
    for extra in ([], ["--config", str(other)]):
        res = CliRunner().invoke(publish_cmd, [*base, *extra, "--json"])
        assert res.exit_code == 0, res.output
        assert _described(out) == (first, recorded)
        assert "cc-by-4.0" in (out / "README.md").read_text()  # the card too


def test_a_dataset_section_that_differs_wins_and_says_so(cleaned_world, catalog_copy, tmp_path, caplog):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(
            cat,
            cleaned_world.root,
            out,
            info=DatasetInfo(license="cc-by-4.0", license_url=BY, version="2.3.0"),
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cleaning.publish"):
            publish(
                cat,
                cleaned_world.root,
                out,
                info=DatasetInfo(license="cc-by-4.0", license_url=BY, version="2.3.0"),
            )
            assert not caplog.records  # the same description: nothing to say
            publish(cat, cleaned_world.root, out, info=DatasetInfo(version="3.0.0"))
            (line,) = [r.getMessage() for r in caplog.records]
            # a section naming only the version changes only that; the licence stays as recorded
            assert "manifest.json" in line and line.endswith("(version)")
            assert _described(out)[0][1:] == (BY, "3.0.0")
            caplog.clear()
            nc = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
            publish(cat, cleaned_world.root, out, info=DatasetInfo(license="cc-by-nc-sa-4.0", license_url=nc))
    (line,) = [r.getMessage() for r in caplog.records]
    assert "manifest.json" in line and "license, license_url" in line and "version" not in line
    assert _described(out)[0][1:] == (nc, "3.0.0")
