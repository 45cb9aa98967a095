"""A review server killed (SIGKILL) in the middle of a tracklet pick leaves the temporary files of
its atomic writes (a tracklet file, a split file, its boxes, the refresh-pending mark); the next
start removes them, as every long command sweeps what a killed run of it left, and keeps those
of a live writer."""

from __future__ import annotations

import os
import subprocess
import sys

from annotations.review.server import ReviewApp
from schemas.partials import host_tag


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_the_next_start_removes_what_a_killed_pick_left_half_written(review_setup):
    root, host, dead = review_setup.dataset, host_tag(), _dead_pid()
    stem = review_setup.facts["videos"][0]
    killed = [  # the names a SIGKILLed pick left in a walkthrough (seeds 6, 8, 9)
        root / "tracklets" / f".{stem}.json.{host}-{dead}.ymk0a32k.part",
        root / f"..tracklets-refresh-pending.{host}-{dead}.bx_tf_2e.part",
        root / f".train.json.{host}-{dead}.ab12_x.part",
        root / "boxes" / f".train.jsonl.{host}-{dead}.cd34_y.part",
    ]
    live = root / "tracklets" / f".{stem}.json.{host}-{os.getpid()}.ef56_z.part"
    for p in [*killed, live]:
        p.write_text("{half")
    app = ReviewApp(root, review_setup.catalog, sample_rate=1.0)
    try:
        assert [p.name for p in killed if p.exists()] == []
        assert live.exists()  # a writer still filling it (another command) keeps it
    finally:
        app.close()
