"""A split file where one product's entry does not read outside any tracklet (a malformed number
in its ``"source"``): the readers hold out only that product, and so does the review's write
path now. A tracklet pick on a good product of the file is written (its entry only), the bad
entry's text left byte for byte; a pick on the bad product is refused before anything is stored,
naming the file, the product and the field. Before, the pick on the good product stored its
decision and rewrote its tracklet file, then answered 422 refusing the whole split file (the
split file and the tracklet file disagreeing), and a pick on the bad product wrote its tracklet
file while its split entry silently kept the old tracklet. The published folder's description
(its tables read the split file whole) is left for the rerun after the fix, as a build does."""

from __future__ import annotations

import json

import pytest

from annotations.refresh_mark import pending_by
from annotations.review.decisions import decide, undo
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_queue_follows_catalog import _queue, _stems
from tests.annotations.review.test_server import _post


def _break_source(path) -> tuple[str, str, str]:
    """Make the first product's ``source`` a malformed number; (that product, its entry's text
    from the key on, a good product of the file)."""
    text = path.read_text()
    data = json.loads(text)
    bad, good = list(data)[:2]
    at = text.index(f'"{bad}"')
    start = text.index('"source": ', at)
    end = min(text.index(",", start), text.index("}", start))
    text = text[:start] + '"source": 1e' + text[end:]
    path.write_text(text)
    entry_end = text.index(f'"{good}"') if text.index(f'"{good}"') > at else len(text)
    return bad, text[at:entry_end], good


def _split_tracklet(path, pid: str, video: str) -> dict:
    text = path.read_text()
    at = text.index(f'"{pid}": ') + len(f'"{pid}": ')
    entry = json.JSONDecoder().raw_decode(text[at:])[0]
    return entry["tracklets"][entry["video_paths"].index(video)]


def test_a_pick_beside_an_entry_that_does_not_read(review_setup):
    f, ds = review_setup.facts, review_setup.dataset
    split = ds / "train.json"
    pids = list(json.loads(split.read_text()))
    stems = {pid: sorted(s for s in f["videos"] if f["product"][s] == pid)[0] for pid in pids[:2]}
    with running(review_setup, sample_rate=1.0) as srv:
        assert set(stems.values()) <= set(_stems(_queue(srv)))  # the page loads both
        bad, entry, good = _break_source(split)
        assert (bad, good) == tuple(pids[:2])
        # the good product's pick is written, the bad entry's bytes kept
        stem, video = stems[good], f["video_path"][stems[good]]
        status, _, body = _post(
            srv, "/api/decision", {"video": stem, "kind": "tracklet", "tracklet": 1, "request_id": "p1"}
        )
        assert status == 200, body
        vt = read_video_tracklets(tracklet_file(ds, video, good))
        assert vt.ground_truth == 1
        assert _split_tracklet(split, good, video) == vt.official()
        assert entry in split.read_text()
        # undone: written back the same way
        status, _, body = _post(
            srv,
            "/api/undo",
            {"video": stem, "seen_decision": json.loads(body)["decision"]["id"], "request_id": "u1"},
        )
        assert status == 200, body
        assert (
            _split_tracklet(split, good, video)
            == read_video_tracklets(tracklet_file(ds, video, good)).official()
        )
        assert entry in split.read_text()

        # the bad product's item (loaded by the page) is refused, naming the file, product, field
        stem, video = stems[bad], f["video_path"][stems[bad]]
        path = tracklet_file(ds, video, bad)
        before = path.read_bytes(), split.read_bytes()
        status, _, body = _post(
            srv, "/api/decision", {"video": stem, "kind": "tracklet", "tracklet": 1, "request_id": "p2"}
        )
        assert status == 410, body
        msg = json.loads(body)["error"]
        for part in (str(split), f"product '{bad}'", "field 'source'", "fix that entry"):
            assert part in msg, msg
        assert (path.read_bytes(), split.read_bytes()) == before

    # the folder's description waits for the fix (its tables read the split file whole): the
    # refresh-pending mark stays, named in the log, and a restart of the page still serves
    assert pending_by(ds)
    with running(review_setup, sample_rate=1.0) as srv:
        assert stems[good] in _stems(_queue(srv))

    # the decisions' own check (what mf-tracklets review and a kept item go through)
    with Catalog(review_setup.catalog) as cat:
        with pytest.raises(DataFormatError) as got:
            decide(ds, cat, video=video, product_id=bad, kind="tracklet", tracklet=1)
        for part in (str(split), f"product '{bad}'", "field 'source'", "nothing was saved"):
            assert part in str(got.value), str(got.value)
        assert list_decisions(cat, video=video, include_undone=True) == []
        assert (path.read_bytes(), split.read_bytes()) == before
        # a pick stored before the entry broke: its undo is refused the same way, nothing undone
        split.write_bytes(before[1].replace(b'"source": 1e', b'"source": 0', 1))
        d, _ = decide(ds, cat, video=video, product_id=bad, kind="tracklet", tracklet=1)
        split.write_bytes(split.read_bytes().replace(b'"source": 0', b'"source": 1e', 1))
        with pytest.raises(DataFormatError, match="field 'source'"):
            undo(ds, cat, d.id)
        assert [x.undone_at for x in list_decisions(cat, video=video, include_undone=True)] == [None]
