"""Instagram's media URLs are signed and change every time a post is read: assets are keyed by
the post's shortcode and the node id, so reruns neither fetch done files again nor add rows, a
failed carousel image refetched replaces its failed row, and rows keyed by a signed URL (the
catalogs of earlier versions) are taken over, never doubled."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

FAST_HTTP = loopback_http()
CODE = "ABCdef1"


def _post(base: str, sig: str) -> dict:
    """A carousel (video, 2 images) as instaloader saves it; its URLs signed with ``sig``."""
    children = [
        {"node": {"__typename": "GraphVideo", "id": "11", "is_video": True,
                  "display_url": f"{base}/ig/thumb.jpg?oe={sig}", "video_url": f"{base}/ig/v.mp4?oe={sig}"}},
    ] + [
        {"node": {"__typename": "GraphImage", "id": f"1{k + 1}", "is_video": False,
                  "display_url": f"{base}/ig/c{k}.jpg?oe={sig}"}}
        for k in (1, 2)
    ]  # fmt: skip
    node = {
        "__typename": "GraphSidecar",
        "id": "1",
        "shortcode": CODE,
        "is_video": False,
        "display_url": f"{base}/ig/c1.jpg?oe={sig}",
        "owner": {"username": "mia"},
        "taken_at_timestamp": 1700000000,
        "edge_media_to_caption": {"edges": [{"node": {"text": "look #ootd"}}]},
        "edge_sidecar_to_children": {"edges": children},
    }
    return {"node": node, "instaloader": {"version": "4.16", "node_type": "Post"}}


@pytest.fixture
def ig(tmp_path):
    files = {"v": mp4_bytes(tmp_path, 3), "c1": jpeg_bytes(31), "c2": jpeg_bytes(32)}
    with FakeSite() as site:

        def sign(sig: str, *, c1_busy: bool = False) -> Path:
            """Serve the post's media at URLs signed ``sig``; write its structure file."""
            site.routes[f"/ig/v.mp4?oe={sig}"] = Route(files["v"], content_type="video/mp4")
            site.routes[f"/ig/c1.jpg?oe={sig}"] = Route(
                files["c1"], content_type="image/jpeg", fail_first=9 if c1_busy else 0
            )
            site.routes[f"/ig/c2.jpg?oe={sig}"] = Route(files["c2"], content_type="image/jpeg")
            path = tmp_path / f"{CODE}.json"
            path.write_text(json.dumps(_post(site.base, sig)))
            return path

        yield site, sign, files


def _run(site: FakeSite, target: Path, root: Path, cat: Path):
    cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
    return collect("instagram", [str(target)], root=root, catalog=cat, cfg=cfg, workers=1)


def _rows(cat_path: Path) -> list[tuple[str, str, str | None, str]]:
    with Catalog(cat_path) as cat:
        return [(str(a.kind), a.url, a.path, str(a.status)) for a in cat.assets(source="instagram")]


def _gets(site: FakeSite) -> int:
    return sum(n for path, n in site.hits.items() if path.startswith("/ig/"))


def test_reruns_with_re_signed_urls_fetch_only_what_failed_and_add_no_rows(ig, tmp_path):
    site, sign, files = ig
    root, cat_path = tmp_path / "root", tmp_path / "c.sqlite"
    s1 = _run(site, sign("1", c1_busy=True), root, cat_path)
    assert s1.ok == 1, s1.human()  # an optional candidate image failing leaves the item downloaded
    assert sorted(_rows(cat_path)) == [
        ("candidate-shop", f"instagram:{CODE}/12", None, "failed"),
        ("candidate-shop", f"instagram:{CODE}/13", f"instagram/{CODE}/candidate-shop-2.jpg", "downloaded"),
        ("video", f"instagram:{CODE}/11", f"instagram/{CODE}/video.mp4", "downloaded"),
    ]
    with Catalog(cat_path) as cat:  # the signed URLs of the last read are kept with the item
        media = cat.get_item("instagram", CODE).item.metadata["media_urls"]
    assert media[f"instagram:{CODE}/12"] == f"{site.base}/ig/c1.jpg?oe=1"

    before = dict(site.hits)
    s2 = _run(site, sign("2"), root, cat_path)
    fetched = {
        p: n - before.get(p, 0)
        for p, n in site.hits.items()
        if p.startswith("/ig/") and n != before.get(p, 0)
    }
    assert fetched == {"/ig/c1.jpg?oe=2": 1}, fetched  # only the failed image, at its new URL
    assert s2.ok == 1, s2.human()
    rows = sorted(_rows(cat_path))
    assert [r[3] for r in rows] == ["downloaded"] * 3 and len(rows) == 3
    assert (root / f"instagram/{CODE}/candidate-shop-1.jpg").read_bytes() == files["c1"]

    n = _gets(site)
    s3 = _run(site, sign("3"), root, cat_path)
    assert s3.skipped == 1 and _gets(site) == n and sorted(_rows(cat_path)) == rows


def _legacy_catalog(root: Path, cat_path: Path, base: str, files: dict[str, bytes]) -> None:
    """The rows the collector wrote before assets had stable keys (keyed by the signed URL), as
    three runs left them: the video and c2 downloaded three times over (one file, three rows),
    c1 failed under its first URL and downloaded under the next two."""
    folder = root / f"instagram/{CODE}"
    folder.mkdir(parents=True)
    names = {"v": "video.mp4", "c1": "candidate-shop-1.jpg", "c2": "candidate-shop-2.jpg"}
    served = {"v": "v.mp4", "c1": "c1.jpg", "c2": "c2.jpg"}
    for key, name in names.items():
        (folder / name).write_bytes(files[key])
    rows = []
    for sig in ("1", "2", "3"):
        for key, name in names.items():
            kind = AssetKind.VIDEO if key == "v" else AssetKind.CANDIDATE_SHOP
            url = f"{base}/ig/{served[key]}?oe={sig}"
            common = dict(source=SourceName.INSTAGRAM, source_id=CODE, kind=kind, url=url)
            if key == "c1" and sig == "1":
                rows.append(MediaAsset(**common, status=Status.FAILED, reason="http_503_exhausted"))
                continue
            body = files[key]
            rows.append(
                MediaAsset(
                    **common,
                    path=f"instagram/{CODE}/{name}",
                    sha256=hashlib.sha256(body).hexdigest(),
                    size=len(body),
                    status=Status.DOWNLOADED,
                )
            )
    with Catalog(cat_path) as cat:
        cat.upsert_items([SourceItem(source=SourceName.INSTAGRAM, source_id=CODE)], status=Status.DOWNLOADED)
        cat.upsert_assets(rows)


def test_rows_keyed_by_signed_urls_are_taken_over_without_fetching_or_doubling(ig, tmp_path):
    site, sign, files = ig
    root, cat_path = tmp_path / "root", tmp_path / "c.sqlite"
    _legacy_catalog(root, cat_path, site.base, files)
    assert len(_rows(cat_path)) == 9
    s = _run(site, sign("4"), root, cat_path)
    assert s.ok == 1 and _gets(site) == 0, s.human()  # every file was there: nothing fetched
    assert sorted(_rows(cat_path)) == [
        ("candidate-shop", f"instagram:{CODE}/12", f"instagram/{CODE}/candidate-shop-1.jpg", "downloaded"),
        ("candidate-shop", f"instagram:{CODE}/13", f"instagram/{CODE}/candidate-shop-2.jpg", "downloaded"),
        ("video", f"instagram:{CODE}/11", f"instagram/{CODE}/video.mp4", "downloaded"),
    ]
    assert sorted(p.name for p in (root / f"instagram/{CODE}").iterdir()) == [
        "candidate-shop-1.jpg",
        "candidate-shop-2.jpg",
        "video.mp4",
    ]
    s2 = _run(site, sign("5"), root, cat_path)
    assert s2.skipped == 1 and _gets(site) == 0 and len(_rows(cat_path)) == 3


def test_a_failed_row_keyed_by_a_signed_url_is_refetched_into_its_slot(ig, tmp_path):
    """An earlier version's run: the video and c2 downloaded, c1 failed (no file, its signed URL
    only); the next run fetches c1 alone, and the failed row does not keep the item undone."""
    site, sign, files = ig
    root, cat_path = tmp_path / "root", tmp_path / "c.sqlite"
    _legacy_catalog(root, cat_path, site.base, files)
    with Catalog(cat_path) as cat:  # keep only the first run's rows
        keep = [a for a in cat.assets(source="instagram") if a.url.endswith("oe=1")]
    cat_path.unlink()
    (root / f"instagram/{CODE}/candidate-shop-1.jpg").unlink()
    with Catalog(cat_path) as cat:
        cat.upsert_items([SourceItem(source=SourceName.INSTAGRAM, source_id=CODE)], status=Status.DOWNLOADED)
        cat.upsert_assets(keep)
    s = _run(site, sign("2"), root, cat_path)
    assert s.ok == 1 and _gets(site) == 1 and site.hits["/ig/c1.jpg?oe=2"] == 1, s.human()
    assert [r[3] for r in _rows(cat_path)] == ["downloaded"] * 3
    assert all(r[1].startswith(f"instagram:{CODE}/") for r in _rows(cat_path))
    s2 = _run(site, sign("3"), root, cat_path)
    assert s2.skipped == 1 and _gets(site) == 1


def test_rows_a_worker_drops_are_dropped_on_the_driver(tmp_path):
    """On a remote executor the driver replays a worker's writes, the dropped rows included."""
    from collectors.cluster import WRITES, replay
    from collectors.core import LockedCatalog

    row = MediaAsset(
        source=SourceName.INSTAGRAM,
        source_id=CODE,
        kind=AssetKind.CANDIDATE_SHOP,
        url="https://cdn.example/c1.jpg?oe=1",
        status=Status.FAILED,
        reason="http_503_exhausted",
    )
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items([SourceItem(source=SourceName.INSTAGRAM, source_id=CODE)])
        cat.upsert_assets([row])
        assert "delete_assets" in WRITES
        replay(LockedCatalog(cat), [("delete_assets", ([row],), {})])
        assert cat.assets(source="instagram") == []


def test_expired_signed_urls_of_old_saved_posts_do_not_block_the_cdn_for_the_others(tmp_path):
    """Saved structures outlive their signed URLs: Instagram's CDN answers 403 "URL signature
    expired" for each such URL. That 403 refuses the URL, not this client: those posts fail
    ``http_403`` saying so, and the posts after them are still fetched from the same host."""
    video = mp4_bytes(tmp_path, 2)
    folder = tmp_path / "saved"
    folder.mkdir()
    with FakeSite() as site:
        for code, ok in (("A1", False), ("A2", False), ("A3", False), ("B1", True)):
            url = f"/ig/{code}.mp4?oe=1"
            site.routes[url] = (
                Route(video, content_type="video/mp4")
                if ok
                else Route(b"URL signature expired", status=403, content_type="text/plain")
            )
            node = {"__typename": "GraphVideo", "id": code, "shortcode": code, "is_video": True,
                    "display_url": f"{site.base}/ig/{code}.jpg", "video_url": site.base + url}  # fmt: skip
            doc = {"node": node, "instaloader": {"version": "4.16", "node_type": "Post"}}
            (folder / f"{code}.json").write_text(json.dumps(doc))
        cfg = load_collect_config(base_url=site.base).model_copy(
            update={"http": FAST_HTTP.model_copy(update={"block_after": 2})}
        )
        s = collect(
            "instagram", [str(folder)], root=tmp_path / "r", catalog=tmp_path / "c.sqlite", cfg=cfg, workers=1
        )
    assert s.ok == 1, s.human()
    assert sorted((p["source_id"], p["reason"]) for p in s.problems) == [
        ("A1", "http_403"), ("A2", "http_403"), ("A3", "http_403")
    ]  # fmt: skip
    assert all("refused this URL only" in p["message"] for p in s.problems)
