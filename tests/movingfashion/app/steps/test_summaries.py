"""The demo's report lines of the world's cleaning figures: a precision, recall or F1 with
nothing to measure it on (None) reads "n/a", never a perfect score."""

from __future__ import annotations

from movingfashion.app.steps.clean import CleanSection
from movingfashion.app.steps.publish import PublishSection

_CLEAN = dict(
    items=3,
    items_by_status={},
    duplicate_videos={},
    split_screen_videos=0,
    taxonomy_mapped=1.0,
    train=2,
    test=1,
    leakage=0,
    published_products=3,
    published_files=9,
    dataset="ds",
)
_PUBLISH = dict(published_products=3, train=2, test=1, held_back=0, held_back_by_reason={}, dataset="ds")


def test_clean_line_reads_n_a_for_a_figure_over_nothing():
    s = CleanSection(
        **_CLEAN, duplicate_precision=None, duplicate_recall=1.0, split_screen_f1=None, truth={"x": 1}
    )
    assert s.summary().endswith("; duplicates P/R n/a/1.00, split-screen F1 n/a")
    assert "duplicates" not in CleanSection(**_CLEAN).summary()  # no world: no figures


def test_publish_line_reads_n_a_for_a_figure_over_nothing():
    s = PublishSection(**_PUBLISH, association_status="run", association_precision=0.0)
    assert s.summary().endswith("; association P/R 0.00/n/a")
    s = PublishSection(
        **_PUBLISH, association_status="run", association_precision=0.5, association_recall=1.0
    )
    assert s.summary().endswith("; association P/R 0.50/1.00")
    both = PublishSection(
        **_PUBLISH,
        association_status="run",
        association_precision=0.5,
        association_recall=1.0,
        association_check_precision=0.75,
        association_check_recall=0.5,
    )  # the picker's holds counted, then the check's own flags alone
    assert both.summary().endswith("; association P/R 0.50/1.00 (the check alone 0.75/0.50)")
    off = PublishSection(**_PUBLISH, association_status="not run")
    assert off.summary().endswith("; association check not run")


def test_publish_line_counts_every_wrong_pair_published():
    """The association P/R counts the world's planted wrong pairs only: a wrong carousel pick it
    never sees is in the wrong pairs published beside it."""
    s = PublishSection(
        **_PUBLISH,
        association_status="run",
        association_precision=1.0,
        association_recall=1.0,
        published_wrong_pairs=2,
        pair_precision=0.9,
    )
    assert s.summary().endswith("; association P/R 1.00/1.00, 2 wrong pairs published (pair precision 0.90)")
    none = PublishSection(**_PUBLISH, association_status="run", published_wrong_pairs=0, pair_precision=None)
    assert none.summary().endswith(", 0 wrong pairs published (pair precision n/a)")


def test_the_best_top1_names_every_tied_method_and_chance():
    from movingfashion.app.steps.seam import best_top1

    assert best_top1({"a": 0.5, "b": 0.5, "c": 0.5}, 0.5) == (
        "best top-1 0.500 (all 3 methods tie) (no better than chance), chance 0.500"
    )
    assert best_top1({"a": 0.4, "b": 0.6, "c": 0.6}, 0.1) == "best top-1 0.600 (b, c), chance 0.100"
    assert best_top1({"seam": 0.7, "b": 0.6}, 0.1) == "best top-1 0.700 (seam), chance 0.100"
