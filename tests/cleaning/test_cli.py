"""The cleaning CLIs through `mf` (click)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from movingfashion.app.cli import cli
from schemas.catalog import Catalog
from schemas.cli_support import run_main


def _run(args):
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize(
    "cmd", [["clean"], ["splits"], ["splits", "rebuild"], ["splits", "check"], ["publish"], ["stats"]]
)
def test_help_has_an_example(cmd):
    res = CliRunner().invoke(cli, [*cmd, "--help"])
    assert res.exit_code == 0 and "Example" in res.output


def test_clean_splits_publish_stats_json(cleaned_world, catalog_copy, tmp_path):
    root = str(cleaned_world.root)
    rep = _run(["clean", "--catalog", str(catalog_copy), "--root", root, "--json"])
    assert rep["items"] == len(cleaned_world.truth.products) and rep["status"]["accepted"] > 0
    sp = _run(["splits", "rebuild", "--catalog", str(catalog_copy), "--seed", "0", "--json"])
    assert sp["products"] == rep["status"]["accepted"] and len(sp["assignments"]) == sp["products"]
    assert _run(["splits", "check", "--catalog", str(catalog_copy), "--json"]) == {"leakage": [], "ok": True}
    pub = _run(
        ["publish", "--catalog", str(catalog_copy), "--root", root, "--out", str(tmp_path / "ds"), "--json"]
    )
    assert pub["products"] == sp["products"]
    st = _run(
        [
            "stats",
            "--catalog",
            str(catalog_copy),
            "--root",
            root,
            "--world",
            str(cleaned_world.world / "world.json"),
            "--json",
        ]
    )
    assert st["truth"]["duplicates"]["precision"] >= 0.98 and st["truth"]["split_screen"]["f1"] >= 0.95
    assert st["leakage"] == []
    cov = st["taxonomy_coverage"]
    assert (
        cov["items"] == rep["items"]
        and cov["rejected"] >= 3
        and set(cov["per_class"]) == {str(c) for c in range(1, 14)}
    )


@pytest.mark.slow
def test_matcher_option_runs_the_matchrcnn_association_check(cleaned_world, catalog_copy, tmp_path):
    """``--matcher FILE``: the Match-RCNN detector + matcher score every (video, shop) pair and the
    world's wrong shop association goes to needs_review, with few right pairs flagged.

    The embedded weights score the world's wrong pair about 0.90 (right pairs 0.88-1.0): this run
    sets ``match_threshold`` to 0.92 to catch it by score alone (the default, 0.7, leaves such a
    pair to the contested-shop rule).
    """
    from movingfashion.models import default_matcher_path
    from schemas.items import Status

    cfg = tmp_path / "clean.yaml"
    cfg.write_text("match_threshold: 0.92\n")
    rep = _run(
        [
            "clean",
            "--catalog",
            str(catalog_copy),
            "--root",
            str(cleaned_world.root),
            "--config",
            str(cfg),
            "--json",
            "--matcher",
            str(default_matcher_path()),
        ]
    )
    wrong = {p.product_id for p in cleaned_world.truth.products if p.wrong_shop}
    with Catalog(catalog_copy) as cat:
        flagged = {
            r.item.source_id
            for r in cat.items(status=Status.NEEDS_REVIEW)
            if (r.reason or "").startswith("association:")
        }
        accepted = len(cat.items(status=Status.ACCEPTED))
    print(f"\nassociation check, embedded weights: flagged {sorted(flagged)}, wrong {sorted(wrong)}")
    assert rep["association_flagged"] == len(flagged) >= 1 and rep["status"]["needs_review"] >= 1
    assert wrong and wrong <= flagged
    assert len(flagged - wrong) <= max(1, accepted // 5)


def test_errors_are_one_line_and_exit_2(cleaned_world, catalog_copy, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dedup:\n  frame_distance: 99\n")
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli,
            [
                "clean",
                "--catalog",
                str(catalog_copy),
                "--root",
                str(cleaned_world.root),
                "--config",
                str(bad),
            ],
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "frame_distance" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli,
            [
                "clean",
                "--catalog",
                str(catalog_copy),
                "--root",
                str(cleaned_world.root),
                "--matcher",
                "nowhere.at_all:Scorer",
            ],
        )
    assert exc.value.code == 2 and "--matcher" in capsys.readouterr().err
    corrupt = tmp_path / "matcher.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli,
            [
                "clean",
                "--catalog",
                str(catalog_copy),
                "--root",
                str(cleaned_world.root),
                "--matcher",
                str(corrupt),
            ],
        )
    err = capsys.readouterr().err
    assert (
        exc.value.code == 2
        and str(corrupt) in err
        and "corrupt" in err
        and len(err.strip().splitlines()) == 1
    )


@pytest.mark.parametrize("spelling", ["--weights", "--detector-weights"])
def test_clean_takes_detector_weights_as_mf_tracklets_build_names_them(
    spelling, tmp_path, monkeypatch, capsys
):
    """``mf clean --weights FILE`` (the name mf-tracklets build and mf world export-gt give the
    detector's weights) reaches the association check; the old ``--detector-weights`` too.
    Before, ``--weights`` was 'No such option'."""
    import cleaning.associations as assoc
    from schemas.errors import ConfigError
    from tests.mf_cli import run_mf

    seen = {}

    def fake_scorer(matcher, detector_weights):
        seen["weights"] = detector_weights
        raise ConfigError("stopped by the test", where=str(detector_weights))

    monkeypatch.setattr(assoc, "matchrcnn_scorer", fake_scorer)
    weights = tmp_path / "det.pt"
    weights.write_bytes(b"x")
    with Catalog(tmp_path / "c.sqlite"):
        pass
    args = ["clean", "--catalog", str(tmp_path / "c.sqlite"), "--root", str(tmp_path), spelling, str(weights)]
    code, _, err = run_mf(args, capsys)
    assert code == 2 and "stopped by the test" in err and seen == {"weights": str(weights)}
    code, _, err = run_mf([*args, "--no-association"], capsys)
    assert code == 2 and "--no-association" in err and "No such option" not in err
