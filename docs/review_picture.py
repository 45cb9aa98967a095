"""Take ``docs/images/review_page.png``: the page of ``mf review`` on a small synthetic world.

    .venv/bin/python docs/review_picture.py --work build/review-picture

Generates a world (24 products), exports its ground-truth dataset, runs the tracklet builder on
it (so the page shows the builder's own candidates and flags), serves the review page on
loopback and screenshots it with headless Chromium (Debian's package, see ``make test-deps``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="build/review-picture")
    ap.add_argument("--out", default="docs/images/review_page.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    from annotations.builder import build_dataset_tracklets
    from annotations.config import BuildConfig
    from annotations.review.server import ReviewApp, make_server
    from movingfashion.world.generate import generate_world
    from movingfashion.world.gt_dataset import export_gt_dataset

    work = Path(args.work)
    world, ds = work / "world", work / "dataset"
    if not (world / "world.json").is_file():
        generate_world(world, 24, 0, quick=True, workers=1)
    if not (ds / "tracklets").is_dir() or not any((ds / "tracklets").glob("*.json")):
        shutil.rmtree(ds, ignore_errors=True)
        export_gt_dataset(world, ds, seed=0)
        shutil.rmtree(ds / "tracklets")  # the builder's tracklets, not the world's truth
        build_dataset_tracklets(ds, config=BuildConfig(stride=2))
    (ds / ".review.sqlite").unlink(missing_ok=True)
    app = ReviewApp(ds, ds / ".review.sqlite", sample_rate=0.25, seed=0, create_catalog=True)
    srv = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="mf-chromium-"),
                executable_path=args.chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 860},
                bypass_csp=True,  # Playwright's waits evaluate strings
            )
            page = ctx.new_page()
            page.goto(srv.url)
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_function("document.getElementById('video').readyState >= 2")
            page.keyboard.press("a")  # accept the first video: the queue moves on to the next
            page.wait_for_selector("body[data-saved='1']")
            page.wait_for_function("document.getElementById('video').readyState >= 2")
            for _ in range(2):
                page.keyboard.press("Shift+ArrowRight")
            page.wait_for_function("document.getElementById('crops').complete")
            page.wait_for_timeout(500)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True)
            ctx.close()
    finally:
        srv.shutdown()
        app.close()
    print(args.out)


if __name__ == "__main__":
    main()
