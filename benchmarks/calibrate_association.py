"""Calibrate the wrong-association check on unseen worlds with planted wrong pairs.

Each world (seeds no test, default or weights build uses) plants the three kinds of wrong pair
(a wrong shop image, a carousel holding other items' product shots, a split-screen still half
showing another item). The catalog is seeded from the world and cleaned with the default config
(the embedded matcher); the script prints the association score of every right and wrong pair,
the precision/recall of the check per world and pooled, and which thresholds would keep
precision and recall (``match_threshold`` of :class:`cleaning.config.CleaningConfig`).

Run: ``.venv/bin/python benchmarks/calibrate_association.py --world 40:5150 --world 32:6161``
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

#: worlds of the calibration: (products, seed); small ones included
DEFAULT_WORLDS = ("40:5150", "32:6161")


def planted_config():
    """A world config planting every kind of wrong pair twice (the shop kind by fraction)."""
    from movingfashion.world.config import WorldConfig

    return WorldConfig(wrong_shop_fraction=0.05, wrong_carousels=2, wrong_split_screens=2)


def run_world(
    products: int, seed: int, work: Path, matcher: str | None = None, by_class: bool = True
) -> dict:
    """Generate, seed, clean; returns the association figures and the score of every pair.
    ``by_class``: :attr:`cleaning.config.CleaningConfig.match_by_class`."""
    from cleaning.associations import matchrcnn_scorer
    from cleaning.config import CleaningConfig
    from cleaning.pipeline import clean
    from movingfashion.world.generate import generate_world
    from movingfashion.world.scoring.cleaning import score_cleaning
    from movingfashion.world.seed import seed_catalog_from_world
    from schemas.catalog import Catalog

    world = work / f"world-{products}-{seed}"
    truth = generate_world(world, products, seed, quick=True, config=planted_config(), workers=2)
    tag = "" if by_class else "-any-class"
    cat_path, root = work / f"cat-{seed}{tag}.sqlite", work / f"root-{seed}{tag}"
    scorer = matchrcnn_scorer(matcher) if matcher else None
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(world, cat, root, truth)
        clean(cat, root, CleaningConfig(match_by_class=by_class), scorer=scorer)
        st = score_cleaning(cat, root, truth, world)
        rows = {r.item.source_id: r for r in cat.items()}
    wrong = {p.product_id: p.wrong_shop_kind for p in truth.products if p.wrong_shop}
    pairs = []
    for pid, r in rows.items():
        if (r.reason or "").startswith("association:") or r.status.value == "accepted":
            pairs.append((pid, wrong.get(pid), str(r.status), (r.reason or "")[:90]))
    return {
        "world": f"{products}:{seed}",
        "association": st["wrong_association"],
        "shop_pick": st["shop_pick"],
        "pairs": pairs,
    }


def world_spec(text: str) -> tuple[int, int]:
    """``PRODUCTS:SEED`` as ``(products, seed)``; anything else is a usage error (checked before
    the first world is generated, not after the ones before it)."""
    try:
        products, seed = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not PRODUCTS:SEED (two integers, e.g. 40:5150)"
        ) from None
    if products < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: PRODUCTS must be at least 1")
    return products, seed


def parser() -> argparse.ArgumentParser:
    """The command line of :func:`main`."""
    from schemas.cli_support import MATCHER_RUN, add_run_file_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", action="append", type=world_spec, help="PRODUCTS:SEED (repeatable)")
    add_run_file_argument(
        ap, "--matcher", **MATCHER_RUN, help="matcher checkpoint (default: the embedded one)."
    )
    ap.add_argument("--work", help="keep the worlds here (default: a temporary folder)")
    ap.add_argument(
        "--any-class",
        action="store_true",
        help="score every detection, not only the item's class (match_by_class: false)",
    )
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    import torch

    torch.set_num_threads(2)
    worlds = args.world or [world_spec(w) for w in DEFAULT_WORLDS]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        tp = pred = actual = 0
        for n, seed in worlds:
            res = run_world(n, seed, work, args.matcher, by_class=not args.any_class)
            a = res["association"]
            print(json.dumps({"world": res["world"], **a}, sort_keys=True))
            print(f"  carousel picks (right shop image among the candidates): {json.dumps(res['shop_pick'])}")
            for pid, kind, status, reason in res["pairs"]:
                if kind or reason:
                    print(f"  {pid:22s} wrong={kind or '-':12s} {status:12s} {reason}")
            tp, pred, actual = tp + a["true_positives"], pred + a["predicted"], actual + a["actual"]
        p = tp / pred if pred else 1.0
        r = tp / actual if actual else 1.0
        print(f"pooled: precision {p:.3f} recall {r:.3f} ({tp} of {actual} wrong pairs, {pred} flagged)")


if __name__ == "__main__":
    main()
