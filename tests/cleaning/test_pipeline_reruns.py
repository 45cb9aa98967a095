"""`mf clean` reruns keep what other stages and the association check decided: a tracklets flag
survives, and an association flag stays until the check has run again (an interrupted rerun
never leaves a flagged item accepted; a run without the check keeps it)."""

from __future__ import annotations

import json

import pytest

import cleaning.steps.associations as assoc_step
from annotations.review.marks import mark_needs_review
from cleaning.config import CleaningConfig
from cleaning.pipeline import clean
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import record_decision
from tests.mf_cli import run_mf


class StandInScorer:
    """Scores every pair 0.95 but those of one item's video (0.1); its tag (the score cache's key)
    names that item."""

    def __init__(self, bad: str | None) -> None:
        self.bad = bad
        self.tag = f"stand-in-{bad}"

    def score(self, video_path, shop_path):
        return 0.1 if self.bad and f"/{self.bad}/" in str(video_path) else 0.95


def _accepted_single(cat: Catalog):
    """An accepted Net-A-Porter item (a collected shop image, no carousel pick) whose source id is
    unique (its product id is its source id)."""
    return next(
        r for r in cat.items(status=Status.ACCEPTED, source="netaporter") if r.product_id == r.item.source_id
    )


def test_a_rerun_keeps_the_tracklet_builders_needs_review(catalog_copy, cleaned_world):
    with Catalog(catalog_copy) as cat:
        row = _accepted_single(cat)
        src, sid = str(row.item.source), row.item.source_id
        assert mark_needs_review(cat, row.product_id, "ground-truth tracklet detected on 12% of frames")
        rep = clean(cat, cleaned_world.root, CleaningConfig(association_check=False))
        after = cat.get_item(src, sid)
    assert after.status == Status.NEEDS_REVIEW
    assert after.reason == "tracklets: ground-truth tracklet detected on 12% of frames"
    assert after.product_id == row.product_id and after.df2_class == row.df2_class
    assert rep["status"]["needs_review"] >= 1


def test_a_tracklets_flag_gives_way_to_a_rejection(catalog_copy, cleaned_world, tmp_path):
    with Catalog(catalog_copy) as cat:
        row = _accepted_single(cat)
        src, sid = str(row.item.source), row.item.source_id
        mark_needs_review(cat, row.product_id, "noisy")
        cat.upsert_item(row.item.model_copy(update={"title": "Leather tote bag", "category_path": []}))
        clean(cat, cleaned_world.root, CleaningConfig(association_check=False))
        after = cat.get_item(src, sid)
    assert after.status == Status.REJECTED and after.reason.startswith("taxonomy: non_clothing: bag")


def test_an_interrupted_rerun_keeps_association_flags_until_the_check_runs(
    catalog_copy, cleaned_world, monkeypatch
):
    cfg = CleaningConfig()
    with Catalog(catalog_copy) as cat:
        row = _accepted_single(cat)
        src, sid = str(row.item.source), row.item.source_id
        clean(cat, cleaned_world.root, cfg, StandInScorer(sid))
        first = cat.get_item(src, sid)
        assert first.status == Status.NEEDS_REVIEW and first.reason.startswith(
            "association: low match score 0.1"
        )

        def killed(*a, **k):
            raise KeyboardInterrupt  # the rerun is stopped as the association step starts

        real = assoc_step.run_association_check
        monkeypatch.setattr(assoc_step, "run_association_check", killed)
        with pytest.raises(KeyboardInterrupt):
            clean(cat, cleaned_world.root, cfg, StandInScorer(sid))
        assert (cat.get_item(src, sid).status, cat.get_item(src, sid).reason) == (first.status, first.reason)
        monkeypatch.setattr(assoc_step, "run_association_check", real)

        rep = clean(cat, cleaned_world.root, cfg, StandInScorer(sid))  # flagged again
        again = cat.get_item(src, sid)
        assert (again.status, again.reason) == (first.status, first.reason)
        assert rep["association_flagged"] >= 1

        clean(cat, cleaned_world.root, cfg, StandInScorer(None))  # the pair fits now: accepted
        fixed = cat.get_item(src, sid)
    assert (fixed.status, fixed.reason) == (Status.ACCEPTED, None)


def test_without_the_association_check_a_rerun_keeps_its_old_flags(catalog_copy, cleaned_world, capsys):
    """Switching the check off does not review its flags (issue 14: needs_review is never
    published until accepted): ``mf clean --no-association`` keeps them and says so; a reviewer's
    accept still settles the item. Before, the rerun put the flagged item back to accepted."""
    with Catalog(catalog_copy) as cat:
        row = _accepted_single(cat)
        src, sid = str(row.item.source), row.item.source_id
        clean(cat, cleaned_world.root, CleaningConfig(), StandInScorer(sid))
        flagged = cat.get_item(src, sid)
        assert flagged.status == Status.NEEDS_REVIEW and flagged.reason.startswith("association:")
        video = next(a.path for a in cat.assets(source=src, source_id=sid, kind="video"))
    args = ["clean", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--json"]
    code, out, err = run_mf([*args, "--no-association"], capsys)
    assert code == 0, err
    assert json.loads(out)["association_kept"] >= 1
    assert "association check off:" in err and "keep the flag" in err
    with Catalog(catalog_copy) as cat:
        after = cat.get_item(src, sid)
        assert (after.status, after.reason) == (flagged.status, flagged.reason)
        record_decision(cat, video=video, product_id=after.product_id, kind="accept")
        clean(cat, cleaned_world.root, CleaningConfig(association_check=False))
        settled = cat.get_item(src, sid)
    assert settled.status == Status.ACCEPTED
