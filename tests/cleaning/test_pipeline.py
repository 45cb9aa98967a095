"""The pipeline runs the steps the config lists, in that order, and its report says what ran."""

from __future__ import annotations

import shutil

import pytest

from cleaning.config import DEFAULT_STEPS, CleaningConfig
from cleaning.pipeline import clean
from cleaning.steps.registry import STEPS
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.items import AssetKind, Status


def _rows(cat):
    return [
        (r.item.source_id, r.status, r.reason, r.duplicate_of, r.df2_class, r.product_id) for r in cat.items()
    ]


def test_the_default_report_lists_every_step(cleaned_world):
    rep = cleaned_world.report
    # the association check runs by default, with the embedded matcher
    assert rep["steps"] == {n: "done" for n in DEFAULT_STEPS}
    assert rep["failed"] == [] and sum(rep["status"].values()) == rep["items"]
    assert rep["association_pairs"] > 0 and "association_flagged" in rep


def test_steps_run_in_the_order_the_config_gives(catalog_copy, cleaned_world, monkeypatch):
    ran = []
    for cls in STEPS.values():
        real = cls.run
        monkeypatch.setattr(
            cls, "run", lambda self, state, ctx, _real=real: ran.append(self.name) or _real(self, state, ctx)
        )
    order = ["taxonomy", "probe", "video_duplicates", "record"]
    with Catalog(catalog_copy) as cat:
        rep = clean(cat, cleaned_world.root, CleaningConfig(steps=order))
    assert ran == order
    assert rep["steps"] == {n: "done" for n in order} | {
        n: "skipped: not in config" for n in ("split_screen", "shop_images", "associations")
    }
    assert "split_screen_videos" not in rep and "shops_picked_from_candidates" not in rep
    assert list(rep)[:5] == ["items", "taxonomy", "probe_rejected", "duplicate_videos", "duplicate_clusters"]


def test_leaving_split_screen_out_skips_it_and_a_full_rerun_restores_everything(
    catalog_copy, cleaned_world, tmp_path
):
    truth = cleaned_world.truth
    split = [truth.product(v.product_id) for v in truth.videos if v.split_screen and not v.duplicate_of]
    assert len(split) >= 2
    steps = [n for n in DEFAULT_STEPS if n != "split_screen"]
    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    with Catalog(cleaned_world.catalog_path) as cat:
        cleaned = _rows(cat)
    with Catalog(catalog_copy) as cat:
        rep = clean(cat, root, CleaningConfig(steps=steps))
        assert rep["steps"]["split_screen"] == "skipped: not in config" and rep["failed"] == []
        for p in split:  # no shop image is recovered from the video: the item waits for review
            row = cat.get_item(p.source, p.product_id)
            assert row.status == Status.NEEDS_REVIEW and row.reason.startswith("shop: no shop image")
            assets = cat.assets(source=p.source, source_id=p.product_id)
            assert all(a.crop is None for a in assets if a.kind == AssetKind.VIDEO)
            recovered = [a for a in assets if (a.url or "").startswith("splitscreen:")]
            assert recovered and all(a.status == Status.REJECTED for a in recovered)
        clean(cat, root)
        assert _rows(cat) == cleaned
        for p in split:
            assets = cat.assets(source=p.source, source_id=p.product_id)
            assert all(a.crop is not None for a in assets if a.kind == AssetKind.VIDEO)


def test_a_partial_run_records_only_what_its_steps_decided(catalog_copy, cleaned_world):
    with Catalog(catalog_copy) as cat:
        rep = clean(cat, cleaned_world.root, CleaningConfig(steps=["probe", "taxonomy", "record"]))
        rows = {r.item.source_id: r for r in cat.items()}
    truth = cleaned_world.truth
    for p in truth.products:
        r = rows[p.product_id]
        if not p.videos:
            assert r.status == Status.REJECTED and r.reason.startswith("probe: no valid video")
        elif p.df2_class is None:
            assert r.status == Status.REJECTED and r.reason.startswith("taxonomy: non_clothing")
        else:  # nothing looked for duplicates or shop images
            assert r.status in (Status.ACCEPTED, Status.NEEDS_REVIEW) and r.duplicate_of is None
            assert r.df2_class is not None
    assert rep["items"] == len(truth.products) and rep["failed"] == []


def test_recording_without_the_taxonomy_is_refused_before_anything_runs(catalog_copy, cleaned_world):
    """``record`` writes every item's class: a run leaving ``taxonomy`` out would wipe them all and
    accept the non-clothing items again (``mf splits``/``mf publish`` then refuse the catalog)."""
    steps = [n for n in DEFAULT_STEPS if n != "taxonomy"]
    with Catalog(catalog_copy) as cat:
        before = _rows(cat)
        assert all(r[4] is not None for r in before if r[1] == Status.ACCEPTED)
        assert any((r[2] or "").startswith("taxonomy: non_clothing") for r in before)
        with pytest.raises(ConfigError, match="field 'steps': .*'record' needs taxonomy earlier"):
            clean(cat, cleaned_world.root, CleaningConfig(steps=steps))
        assert _rows(cat) == before
    # without record (a dry run) the taxonomy may still be left out
    with Catalog(catalog_copy) as cat:
        rep = clean(cat, cleaned_world.root, CleaningConfig(steps=["probe", "video_duplicates"]))
        assert rep["steps"]["taxonomy"] == "skipped: not in config" and _rows(cat) == before


def test_without_record_nothing_is_written(catalog_copy, cleaned_world):
    with Catalog(catalog_copy) as cat:
        before = _rows(cat), [a.model_dump(exclude={"updated_at"}) for a in cat.assets()]
        rep = clean(cat, cleaned_world.root, CleaningConfig(steps=["probe", "video_duplicates", "taxonomy"]))
        after = _rows(cat), [a.model_dump(exclude={"updated_at"}) for a in cat.assets()]
    assert rep["steps"]["record"] == "skipped: not in config" and rep["duplicate_videos"]
    assert before == after


def test_the_report_counts_the_items_it_leaves_as_they_are(tmp_path):
    """``items`` counts what cleaning decides; an item a reviewer rejected, or a collector
    rejected, is left as it is. The report said ``items: 28`` of a 30-item catalog after two
    review rejects, with nothing naming the other two; ``left_as_is`` does, by why."""
    from cleaning.pipeline import build_report
    from cleaning.steps.state import CleaningState
    from schemas.items import SourceItem

    with Catalog(tmp_path / "catalog.sqlite") as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=s) for s in "abcd"], status=Status.DOWNLOADED
        )
        cat.set_item_state(
            "netaporter", "b", status=Status.REJECTED, reason="review: not the garment (videos/b_0.mp4)"
        )
        cat.set_item_state("netaporter", "c", status=Status.REJECTED, reason="http_404: gone")
        cat.set_item_state("netaporter", "d", status=Status.REJECTED, reason="taxonomy: non_clothing: bag")
        rep = build_report(CleaningState.from_catalog(cat), {})
    assert rep["items"] == 2  # a (downloaded) and d (rejected by cleaning: decided again)
    assert rep["left_as_is"] == {"rejected by a collector": 1, "rejected in review": 1}


def test_a_root_holding_none_of_the_collected_files_is_refused_naming_it(
    catalog_copy, cleaned_world, tmp_path, capsys
):
    """A wrong --root (an empty folder) is one usage error naming it, not every item failed with
    "run mf-collect again to fetch it"; the catalog is left as it was."""
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    with Catalog(catalog_copy) as cat:
        before = _rows(cat)
        with pytest.raises(ConfigError) as exc:
            clean(cat, wrong, CleaningConfig(association_check=False))
        assert exc.value.where == str(wrong.absolute()) and "--root" in str(exc.value)
        assert "mf-collect wrote" in (exc.value.hint or "")
        assert _rows(cat) == before
    with pytest.raises(SystemExit) as stop:
        run_main(cli, ["clean", "--catalog", str(catalog_copy), "--root", str(wrong), "--no-association"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and str(wrong) in err and len(err.strip().splitlines()) == 1
