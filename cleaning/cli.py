"""CLIs of the cleaning stage: ``mf clean``, ``mf splits``, ``mf publish``, and the counts of
``mf stats`` (:mod:`movingfashion.app.stats`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from cleaning.splits import MODES
from movingfashion.executors.options import executor_options, threads_option
from schemas.cli_support import (
    DETECTOR_RUN,
    EXIT_STATUS,
    FINITE_FLOAT,
    HELP,
    MATCHER_RUN,
    catalog_option,
    emit,
    exit_if_failed,
    json_option,
    progress,
    progress_option,
    root_option,
    run_file_option,
)
from schemas.render import counted

_catalog_opt = catalog_option()
_root_opt = root_option()
_config_opt = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML/JSON overriding CleaningConfig defaults (thresholds, steps).",
)

if TYPE_CHECKING:
    from cleaning.config import CleaningConfig


def _human(result: dict[str, Any]) -> str:
    lines = []
    for k, v in result.items():
        if k in ("assignments", "failed"):
            continue
        lines.append(
            f"{k}: {json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list) else v}"
        )
    failed = result.get("failed") or []
    if failed:
        lines.append(f"failed: {len(failed)}")
        for f in failed:
            what = f.get("item") or f.get("product")
            step = f" [{f['step']}]" if f.get("step") else ""
            lines.append(f"  {what}{step}: {f['error']}")
    return "\n".join(lines)


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@_catalog_opt
@_root_opt
@_config_opt
@run_file_option(
    "--matcher",
    **MATCHER_RUN,
    help="Single-frame matcher checkpoint of the wrong-association check and the carousel pick "
    "(default: the embedded movingfashion/models/weights/matcher.pt; or one from mf pretrain-matcher).",
)
@run_file_option(
    "--weights",
    "--detector-weights",
    "detector_weights",
    **DETECTOR_RUN,
    help="Detector weights for the association check (default: the embedded detector); the"
    " option of mf-tracklets build (--detector-weights, its old name here, still works).",
)
@threads_option
@executor_options
@click.option(
    "--no-association",
    is_flag=True,
    help="Switch the wrong-association check off (carousel shop images are then picked by colour; "
    "items an earlier run flagged stay needs_review); mf stats --world then reports the check as not run.",
)
@json_option
@progress_option
def clean(
    catalog_path: str,
    root: str,
    config_path: str | None,
    matcher: str | None,
    detector_weights: str | None,
    executor: str | None,
    ray_address: str | None,
    no_association: bool,
    as_json: bool,
) -> None:
    """Probe media, find duplicates, recover split-screen shops, map classes, flag bad pairs.

    Items end accepted, rejected (with the reason), duplicate (with duplicate_of) or
    needs_review (with the reason). The steps and their order come from the config's `steps`
    (default: probe, video_duplicates, split_screen, taxonomy, shop_images, record,
    associations); the report says what each step did. The association check runs by default
    with the embedded Match-RCNN detector and matcher: an item whose shop image does not match
    its video (below match_threshold, or a product shot another item's video matches better)
    becomes needs_review with the score and the reason. Safe to rerun: results (scores too)
    are cached by file hash, and an item that failed is tried again.

    \b
    Examples:
      mf clean --catalog data/catalog.sqlite --root data
      mf clean --catalog data/catalog.sqlite --root data --no-association
      mf clean --catalog data/catalog.sqlite --root data --threads 1   # the scores a Ray run gives
      mf clean --catalog data/catalog.sqlite --root data --config clean.yaml \\
               --matcher my-weights/matcher.pt --json   # weights of your own (mf pretrain-matcher)
      # with clean.yaml holding, to skip split-screen recovery:
      #   steps: [probe, video_duplicates, taxonomy, shop_images, record, associations]
      # on a Ray cluster (the catalog stays here; --root must be on a shared file system):
      mf clean --catalog data/catalog.sqlite --root data --executor ray --ray-address HEAD:6379
    """
    from cleaning.pipeline import clean as run_clean
    from cleaning.steps.registry import load_cleaning_config
    from movingfashion.executors import make_executor
    from schemas.catalog import Catalog

    if no_association and (matcher or detector_weights):
        raise click.UsageError("--matcher/--weights are used by the association check: drop --no-association")
    cfg = load_cleaning_config(config_path)
    if no_association:
        cfg = cfg.model_copy(update={"association_check": False})
    scorer = None
    if (matcher or detector_weights) and cfg.association_check:
        from cleaning.associations import matchrcnn_scorer

        scorer = matchrcnn_scorer(matcher, detector_weights)
    # the executor first: a cluster that cannot be joined stops the run before the catalog is opened
    # progress goes to stderr, --json or not (stdout holds the JSON alone)
    with make_executor(executor or cfg.executor, address=ray_address, show_progress=True) as ex:
        with Catalog(catalog_path, must_exist=True) as cat:
            report = run_clean(cat, root, cfg, scorer, show_progress=True, executor=ex)
        if ex.remote:
            report["executor"] = ex.report()
    if kept := report.get("association_kept"):  # on stderr, with --json too
        click.echo(
            f"association check off: {kept} {'item keeps the flag' if kept == 1 else 'items keep the flags'}"
            " an earlier run set (needs_review until a run with the check or a reviewer's accept settles them)",
            err=True,
        )
    emit(report, as_json, _human)
    exit_if_failed(report["failed"])


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def splits() -> None:
    """Stable, stratified 90/10 train/test splits.

    \b
    Examples:
      mf splits rebuild --catalog data/catalog.sqlite
      mf splits check --catalog data/catalog.sqlite --json
    """


@splits.command("rebuild", epilog=EXIT_STATUS)
@_catalog_opt
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML/JSON whose split_seed/test_fraction, when it sets them, replace the recorded rule "
    "(below --seed/--test-fraction; keys it leaves out keep the recorded values).",
)
@click.option(
    "--seed",
    type=int,
    help="Split seed (default: split_seed of --config when it sets one, else the recorded rule's, else 0).",
)
@click.option(
    "--test-fraction",
    type=FINITE_FLOAT,
    help="Share of products in test, greater than 0 and less than 1 (default: test_fraction of "
    "--config when it sets one, else the recorded rule's, else 0.1).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    help="stable: exact per-stratum quotas, existing products pinned; hash: a pure function of (id, seed), "
    "stratified only on average (default: the recorded rule's, else stable).",
)
@click.option("--reassign", is_flag=True, help="Forget the pinned splits and redraw all (may move products).")
@json_option
def splits_rebuild(
    catalog_path: str,
    config_path: str | None,
    seed: int | None,
    test_fraction: float | None,
    mode: str | None,
    reassign: bool,
    as_json: bool,
) -> None:
    """Regenerate every split from the catalog and write it into the catalog items.

    The rule (seed, test fraction, mode), field by field: the option, else the key the --config
    file sets, else the rule the catalog recorded (at its last rebuild or publish), else the
    defaults (0, 0.1, stable). So a plain rebuild keeps the recorded rule, as mf publish does:
    products that already have a split keep it, and new products fill each (class, partition)
    stratum's quota in hash order. A rule that differs from the recorded one redraws the splits
    and may move products. The one exception under a kept rule: an item that
    links two placed duplicate groups merges them, and a train product of the merged group moves
    to test (no leakage); every moved product is listed in `moved` and warned about on stderr.

    \b
    Examples:
      mf splits rebuild --catalog data/catalog.sqlite --seed 0 --json
      mf splits rebuild --catalog data/catalog.sqlite --reassign   # redraw from scratch
    """
    from cleaning.publish import check_cleaned, not_cleaned_message
    from cleaning.splits import check_test_fraction, rebuild_splits, split_rule
    from cleaning.steps.registry import load_cleaning_config
    from schemas.catalog import Catalog

    if test_fraction is not None:  # checked before anything is opened: 0 < f < 1, as in the config
        check_test_fraction(test_fraction, where="--test-fraction")
    from_file = _rule_set_by(load_cleaning_config(config_path))
    seed = from_file.get("seed") if seed is None else seed
    test_fraction = from_file.get("test_fraction") if test_fraction is None else test_fraction
    with Catalog(catalog_path, must_exist=True) as cat:
        if n := check_cleaned(cat):  # none cleaned: refused (exit 2); some: said on stderr
            click.echo(f"warning: {not_cleaned_message(n)}", err=True)
        rule = split_rule(cat, seed=seed, test_fraction=test_fraction, mode=mode)
        res = rebuild_splits(cat, **rule, reassign=reassign)
    res["assignments"] = [a.model_dump(mode="json") for a in res["assignments"]]
    for m in res["moved"]:  # on stderr, with --json too: a published product changes split
        click.echo(
            f"warning: product {m['product']} ({m['item']}) moved from {m['from']} to {m['to']}: "
            f"{m['because']}",
            err=True,
        )
    emit(res, as_json, _human)


def _rule_set_by(cfg: CleaningConfig) -> dict[str, Any]:
    """The split rule fields (``seed``, ``test_fraction``) the config file sets itself: those
    it leaves out (all of them without a file) are its defaults, not a choice, and do not
    replace the rule the catalog recorded."""
    names = {"split_seed": "seed", "test_fraction": "test_fraction"}
    return {rule: getattr(cfg, field) for field, rule in names.items() if field in cfg.model_fields_set}


@splits.command("check", epilog=EXIT_STATUS)
@_catalog_opt
@json_option
def splits_check(catalog_path: str, as_json: bool) -> None:
    """Check that no product or duplicate group spans train and test (exit 1 if one does, listed).

    \b
    Example:
      mf splits check --catalog data/catalog.sqlite
    """
    from cleaning.splits import check_leakage
    from schemas.catalog import Catalog

    with Catalog(catalog_path, read_only=True, must_exist=True) as cat:  # a check: nothing written
        problems = check_leakage(cat)
    emit(
        {"leakage": problems, "ok": not problems},
        as_json,
        lambda r: "no leakage" if r["ok"] else "\n".join(r["leakage"]),
    )
    exit_if_failed(problems)


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@_catalog_opt
@_root_opt
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder to write.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML/JSON overriding CleaningConfig defaults (dataset: description; split_seed/test_fraction "
    "only for a catalog that recorded no split rule: see above).",
)
@click.option(
    "--archive",
    is_flag=True,
    help="Also write OUT.zip beside the folder (deterministic: sorted entries, fixed timestamps) and "
    "OUT.zip.sha256, once the folder verifies.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="When another mf publish is writing OUT, wait for it to finish (saying so on stderr, no "
    "time limit) instead of stopping at once.",
)
@click.option(
    "--rebuild-state",
    is_flag=True,
    help="Rebuild OUT/.publish-state.json when it is damaged or lost: every media file is made again "
    "from its collected file, those OUT/manifest.json lists count as publish's own, tracklet files stay.",
)
@json_option
@progress_option
def publish(
    catalog_path: str,
    root: str,
    out: str,
    config_path: str | None,
    archive: bool,
    wait: bool,
    rebuild_state: bool,
    as_json: bool,
) -> None:
    """Write the dataset folder in the real archive's layout, then verify it (as mf verify does).

    Official train/test JSON (source 0 = Hard, 1 = Regular), videos/, imgs/ (.jpg Regular,
    .png Hard), entries.jsonl, front/rear/fabric views, pairs/ and boxes/ tables, datasheet,
    dataset card (README.md), croissant.json and manifest.json. Items carrying the same shop
    image become one product with several videos; a test product keeps one video.

    Rerunning on unchanged input gives byte-identical files and copies nothing again. A product
    whose media cannot be published (a collected file gone, a crop that does not encode) is left
    out and listed; the others are published. Exit 1 also when the written folder breaks an
    archive invariant (listed). The config's `dataset:` section names the dataset (licence,
    url, creators, version, date_published) for Croissant and the card; without one, the
    description OUT/manifest.json recorded is kept (the defaults on a first publish), and a
    `dataset:` that changes it says which fields on stderr. A malformed SOURCE_DATE_EPOCH is
    refused (exit 2) before anything is written.

    Items that are needs_review (association check, carousel pick, tracklet flags) or rejected
    are held back: never in train.json/test.json until accepted (mf review); the output lists
    each with its reason ("held_back" and "held_back_by_reason" in --json) and the command that
    lifts a hold ("held_back_lift": mf-tracklets review --catalog lists the --accept commands).
    Every catalog item is accounted for ("items" in --json, the counts adding up to the
    catalog's items), and each duplicate names the item it copies ("duplicates").
    Rerun it after mf-tracklets build --catalog and after review to refresh the splits.

    Two product pages of one source that share one shop image file but record different
    colours are not merged into one product: publish sets both needs_review (reason "merge:
    ...", naming the other item and both colours); accept them in review to merge them.

    Splits are stable: publish never moves one. New products are placed by the split rule the
    catalog recorded (at its last mf splits rebuild or publish; "split_rule" in --json); the
    config's split_seed/test_fraction make the rule only of a catalog that recorded none. A
    config that sets a different rule is not used, and says so in one line on stderr
    ("split_rule_ignored" in --json): change the rule with mf splits rebuild --config FILE.

    One publish per folder at a time (OUT/.publish.lock): a second one stops with one line naming
    the first (pid, command, start) and exit 2, unless --wait. Builds and review picks may run
    meanwhile; the tracklet files of videos no split file lists are removed (removed_tracklets).

    A damaged OUT/.publish-state.json (what the last publish made of which collected file) is
    refused, nothing changed; rerun with --rebuild-state to make every media file again from
    its collected file and write the state anew, in the same folder, tracklet files kept.

    \b
    Examples:
      mf publish --catalog data/catalog.sqlite --root data --out dataset
      mf publish --catalog data/catalog.sqlite --root data --out dataset --archive --json
    """
    from cleaning.publish import publish as run_publish
    from cleaning.steps.registry import load_cleaning_config
    from schemas.catalog import Catalog

    cfg = load_cleaning_config(config_path)
    with Catalog(catalog_path, must_exist=True) as cat:
        res = run_publish(
            cat,
            root,
            out,
            **_rule_set_by(cfg),  # the recorded rule wins: these only split a catalog without one
            keep_going=True,
            info=cfg.dataset if "dataset" in cfg.model_fields_set else None,  # None: the recorded one
            archive=archive,
            progress=lambda groups: progress(groups, desc="publish", unit="product"),  # on stderr
            wait=wait,
            rebuild_state=rebuild_state,
        )
    if res["not_cleaned"]:  # none cleaned is refused before this (exit 2)
        from cleaning.publish import not_cleaned_message

        click.echo(f"warning: {not_cleaned_message(res['not_cleaned'])}", err=True)
    if res["split_rule_ignored"]:  # with --json too: the config asked for splits it does not get
        from cleaning.publish import publish_rule_warning

        warning = publish_rule_warning(
            res["split_rule"], res["split_rule_ignored"], config=str(config_path), catalog=catalog_path
        )
        click.echo(f"warning: {warning}", err=True)
    res["held_back_lift"] = held_back_lift(res.get("held_back") or [], res["out"], catalog_path)
    emit(res, as_json, lambda r: _publish_human(r, catalog=catalog_path))
    exit_if_failed(res["failed"] + res["verify"]["breaks"])


def held_back_lift(held: list[dict[str, str]], out: str, catalog: str) -> str | None:
    """The command that lifts the holds of ``held`` (a publish's ``held_back`` rows), or None when
    review can lift none of them (all rejected by cleaning): ``mf-tracklets review --catalog``
    lists each held item's videos with the ``--accept``/``--reject`` command that decides them
    (the review page, ``mf review``, queues the same)."""
    from schemas.items import Status
    from schemas.review import REJECT_PREFIX

    def liftable(h: dict[str, str]) -> bool:
        return h["status"] != Status.REJECTED or h["reason"].startswith(REJECT_PREFIX)

    if not any(liftable(h) for h in held):
        return None
    import shlex

    return f"mf-tracklets review --dataset {shlex.quote(str(out))} --catalog {shlex.quote(str(catalog))}"


def _publish_human(res: dict[str, Any], catalog: str | None = None) -> str:
    """The human text of a publish; ``catalog`` (the one it read) goes into the build command it
    names, so the builder marks the videos it flags there and the next publish holds them back."""
    verify = res["verify"]
    text = _human(
        {
            k: v
            for k, v in res.items()
            if k
            not in (
                "verify",
                "archive",
                "held_back",
                "not_cleaned",
                "split_rule_ignored",
                "without_tracklets",
                "same_version",
                "withdrawn",
                "stale_archive",
                "held_back_lift",
                "items",
                "duplicates",
                "unaccounted",
            )
        }
    )
    gone = res.get("withdrawn") or []
    if gone:
        text += f"\nwithdrawn (listed by the last publish, not now): {len(gone)} products"
        text += "".join(f"\n  {w['product']} (was {w['split']}): {w['why']}" for w in gone)
    bare = res.get("without_tracklets") or []
    if bare:
        names = ", ".join(bare[:5]) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
        text += (
            f"\nwithout tracklets (no box yet): {counted(len(bare), 'video')} ({names}); build them: "
            f"mf-tracklets build --dataset {res['out']}" + (f" --catalog {catalog}" if catalog else "")
        )
    held = res.get("held_back") or []
    text += f"\nheld back (not in train.json/test.json until accepted): {len(held)}"
    text += "".join(f"\n  {h['item']} [{h['status']}]: {h['reason']}" for h in held)
    if res.get("held_back_lift"):
        text += (
            f"\n  lift a hold: {res['held_back_lift']} lists each held item's videos with the "
            "--accept/--reject command that decides them (or the page: mf review, same options)"
        )
    from cleaning.publish.accounting import accounting_lines

    text += "".join(f"\n{line}" for line in accounting_lines(res))
    text += "\nverify: " + ("clean" if verify["ok"] else f"{len(verify['breaks'])} breaks")
    if verify.get("decoded_before"):
        text += f" ({verify['decoded_before']} media unchanged since the last verify not decoded again)"
    text += "".join(f"\n  {b}" for b in verify["breaks"])
    if res["archive"]:
        text += f"\narchive: {res['archive']['path']} (sha256 {res['archive']['sha256']})"
    if res.get("stale_archive"):
        text += f"\narchive: {res['stale_archive']} is out of date (from an earlier publish)"
    if res.get("same_version"):
        text += f"\nrelease: {res['same_version']}"
    return text


def stats_result(catalog_path: str, rules: str | None) -> dict[str, Any]:
    """What ``mf stats`` prints: :func:`cleaning.stats.catalog_stats` of the catalog file."""
    from cleaning.stats import catalog_stats
    from schemas.catalog import Catalog

    with Catalog(catalog_path, read_only=True, must_exist=True) as cat:  # a report: nothing written
        return catalog_stats(cat, rules)


#: Human form of a stats result (``mf stats`` lives in the app layer: it adds the world's scores).
stats_human = _human
