"""A reviewable copy of the small world's ground-truth dataset, and a running review server."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.annotations.review.review_dataset import make_review_dataset


@dataclass
class ReviewSetup:
    dataset: Path
    catalog: Path
    facts: dict


@pytest.fixture
def review_setup(gt_dataset, tmp_path) -> ReviewSetup:
    ds, cat = tmp_path / "dataset", tmp_path / "catalog.sqlite"
    return ReviewSetup(ds, cat, make_review_dataset(gt_dataset, ds, cat))


@contextlib.contextmanager
def running(setup: ReviewSetup, **kw):
    """An in-process review server on a free loopback port."""
    from annotations.review.server import ReviewApp, make_server

    app = ReviewApp(setup.dataset, setup.catalog, **kw)
    srv = make_server(app, "127.0.0.1", 0)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        app.close()
