"""An item held back without a DeepFashion2 class (cleaning could not tell it) cannot be accepted
until a class is chosen: the page's accept answers 400 saying so, ``mf-tracklets review
--accept`` refuses it (exit 2) and records nothing, the catalog refuses it too; a class, then the accept, goes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from annotations.cli import tracklets
from annotations.review.marks import REVIEW_FILE
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.items import Status
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_held_back import _cleaning_flagged
from tests.annotations.review.test_server import _post

PID = "CnoclassAAA"


def _classless(setup) -> str:
    stem = _cleaning_flagged(setup, PID, setup.facts["videos"][2])
    with Catalog(setup.catalog) as cat:
        cat.set_item_state("instagram", PID, df2_class=None)
    return stem


def test_the_page_refuses_an_accept_without_a_class(review_setup):
    stem = _classless(review_setup)
    with running(review_setup, sample_rate=0.0) as srv:
        status, _, body = _post(srv, "/api/decision", {"video": stem, "kind": "accept"})
        assert status == 400 and "choose one (c" in json.loads(body)["error"]
        assert _post(srv, "/api/decision", {"video": stem, "kind": "class", "df2_class": 3})[0] == 200
        assert _post(srv, "/api/decision", {"video": stem, "kind": "accept"})[0] == 200
    with Catalog(review_setup.catalog) as cat:
        row = cat.get_item("instagram", PID)
        assert (row.status, row.df2_class) == (Status.ACCEPTED, 3)


def test_the_cli_refuses_an_accept_without_a_class_before_recording_anything(review_setup):
    stem = _classless(review_setup)
    ds = review_setup.dataset
    args = ["review", "--dataset", str(ds), "--catalog", str(review_setup.catalog)]
    res = CliRunner().invoke(tracklets, [*args, "--accept", stem])
    # an MFError: the entry point prints its one line and exits 2
    assert isinstance(res.exception, ConfigError) and "no DeepFashion2 class" in str(res.exception)
    assert not (ds / REVIEW_FILE).exists() or stem not in (ds / REVIEW_FILE).read_text()
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat) == [] and cat.get_item("instagram", PID).status == Status.NEEDS_REVIEW
