"""Instagram source: saved instaloader structures replayed against a loopback CDN; session files."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat

import pytest

from collectors.api import collect, open_source
from collectors.config import load_collect_config
from collectors.instagram import read_session_file, secure_session_file
from schemas.catalog import Catalog
from schemas.errors import ConfigError, DataFormatError, FetchError
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

FAST_HTTP = loopback_http()


def offline_cfg():
    """Instagram's API hosts mapped onto a closed loopback port: nothing can reach the internet."""
    return load_collect_config(base_url="http://127.0.0.1:9").model_copy(update={"http": FAST_HTTP})


def structure(node: dict) -> dict:
    return {"node": node, "instaloader": {"version": "4.16", "node_type": "Post"}}


def carousel(code: str, video: str, images: list[str]) -> dict:
    children = [
        {"node": {"__typename": "GraphVideo", "is_video": True, "display_url": images[0], "video_url": video}}
    ]
    children += [{"node": {"__typename": "GraphImage", "is_video": False, "display_url": u}} for u in images]
    return {
        "__typename": "GraphSidecar",
        "shortcode": code,
        "is_video": False,
        "display_url": images[0],
        "owner": {"username": "nora.wears"},
        "taken_at_timestamp": 1700000000,
        "edge_media_to_caption": {"edges": [{"node": {"text": f"Weekend look {code} #ootd #slipdress"}}]},
        "edge_sidecar_to_children": {"edges": children},
    }


@pytest.fixture(scope="module")
def insta(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ig")
    with FakeSite() as site:
        files = {}
        posts = tmp / "posts"
        posts.mkdir()
        for n, code in enumerate(["CxAbc01", "CxAbc02"]):
            files[(code, "video")] = mp4_bytes(tmp, 90 + n)
            site.routes[f"/ig/{code}.mp4"] = Route(files[(code, "video")], content_type="video/mp4")
            urls = []
            for k in range(2):
                files[(code, k)] = jpeg_bytes(900 + 10 * n + k)
                site.routes[f"/ig/{code}_{k}.jpg"] = Route(files[(code, k)], content_type="image/jpeg")
                urls.append(site.url(f"/ig/{code}_{k}.jpg"))
            (posts / f"{code}.json").write_text(
                json.dumps(structure(carousel(code, site.url(f"/ig/{code}.mp4"), urls)))
            )
        img_only = {
            "__typename": "GraphImage",
            "shortcode": "CxImg03",
            "is_video": False,
            "display_url": site.url("/ig/CxAbc01_0.jpg"),
        }
        (posts / "CxImg03.json").write_text(json.dumps(structure(img_only)))
        bad = carousel("bad/../x", site.url("/ig/CxAbc01.mp4"), [site.url("/ig/CxAbc01_0.jpg")])
        (posts / "bad.json").write_text(json.dumps(structure(bad)))
        yield site, posts, files


def test_structures_carousel_video_and_candidates(insta, tmp_path):
    site, posts, files = insta
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    cfg = load_collect_config(base_url=site.base).model_copy(update={"http": FAST_HTTP})
    s = collect("instagram", [str(posts)], root=out, catalog=cat_path, cfg=cfg, workers=2)
    assert s.ok == 2 and s.reasons == {"no_video": 1, "unsafe_id": 1}, s.human()
    with Catalog(cat_path) as cat:
        for code in ("CxAbc01", "CxAbc02"):
            row = cat.get_item("instagram", code)
            assert row.status == "downloaded" and row.item.has_video
            assert row.item.hashtags == ["ootd", "slipdress"] and row.item.designer == "nora.wears"
            assert (out / f"instagram/{code}/video.mp4").read_bytes() == files[(code, "video")]
            cands = cat.assets(source="instagram", source_id=code, kind="candidate-shop")
            assert sorted(a.path for a in cands) == [
                f"instagram/{code}/candidate-shop-{k}.jpg" for k in (1, 2)
            ]
            for a in cands:
                k = int(a.path[-5]) - 1
                assert a.sha256 == hashlib.sha256(files[(code, k)]).hexdigest()
        assert cat.get_item("instagram", "CxImg03").reason == "no_video"
    before = sum(site.hits.values())
    s2 = collect("instagram", [str(posts)], root=out, catalog=cat_path, cfg=cfg, workers=2)
    assert s2.skipped == 4 and sum(site.hits.values()) == before


def test_session_file_is_tightened_and_secret_never_shown(tmp_path, caplog):
    secret = tmp_path / "session-mia"
    secret.write_bytes(b"SECRET-COOKIE-VALUE")
    os.chmod(secret, 0o644)
    secure_session_file(secret)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    # not a real session: refused with a hint when the source opens, contents never echoed
    with (
        pytest.raises(ConfigError) as ei,
        open_source(
            "instagram",
            ["#ootd"],
            root=tmp_path,
            catalog=tmp_path / "c.sqlite",
            session_file=str(secret),
            login="mia",
        ),
    ):
        pass
    assert "SECRET" not in str(ei.value) and "SECRET" not in caplog.text
    with pytest.raises(ConfigError):
        secure_session_file(tmp_path / "missing")


def test_target_forms(tmp_path):
    with open_source("instagram", ["#ootd"], root=tmp_path, catalog=tmp_path / "c.sqlite") as src:
        (c,) = list(src.discover(["https://www.instagram.com/p/CxYz123/?igsh=1"]))
        assert c.raw_id == "CxYz123" and c.payload is None
        (c,) = list(src.discover(["shortcode:CxYz124"]))
        assert c.url == "https://www.instagram.com/p/CxYz124/"
        with pytest.raises(Exception) as ei:
            list(src.discover(["what-is-this"]))
        assert "cannot read target" in str(ei.value)
    with pytest.raises(DataFormatError) as ei:  # refused before anything is created
        collect("instagram", ["what-is-this"], root=tmp_path / "new", catalog=tmp_path / "new/c.sqlite")
    assert "cannot read target" in str(ei.value) and not (tmp_path / "new").exists()


def test_a_listing_failing_part_way_keeps_its_posts_and_the_next_targets(tmp_path, monkeypatch):
    """instaloader failing on a profile's second page: the posts read before are kept, the
    profile is handed on as a discovery problem naming it, and the next target is still read."""
    from collectors.core import Candidate, DiscoveryProblem

    def posts(kind, name):
        yield Candidate("CxOne01", url="https://www.instagram.com/p/CxOne01/", key="www.instagram.com")
        raise FetchError(
            f"instaloader could not list {kind} {name!r}: ConnectionException",
            where=f"{kind}:{name}",
            reason="instaloader_error",
        )

    with open_source("instagram", ["profile:nora"], root=tmp_path, catalog=tmp_path / "c.sqlite") as src:
        monkeypatch.setattr(src, "_posts", posts)
        found = list(src.discover(["profile:nora", "shortcode:CxTwo02"]))
    assert [c.raw_id for c in found] == ["CxOne01", None, "CxTwo02"]
    problem = found[1]
    assert isinstance(problem, DiscoveryProblem) and problem.url == "profile:nora"
    assert problem.error.reason == "instaloader_error"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"session_file": "missing", "login": "mia"}, "session file not found"),
        ({"session_file": "session-mia"}, "--session-file needs --login USER"),
        ({"login": "mia"}, "needs --session-file FILE"),
    ],
    ids=["missing-file", "no-login", "login-alone"],
)
def test_session_options_are_checked_before_anything_is_created(tmp_path, options, says):
    """The finding: a missing session file failed every post as ``failed ConfigError`` (exit 1,
    reruns retrying for ever), after ROOT and the catalog were created."""
    (tmp_path / "session-mia").write_bytes(b"SECRET-COOKIE-VALUE")
    options = {k: str(tmp_path / v) if k == "session_file" else v for k, v in options.items()}
    root = tmp_path / "data"
    with pytest.raises(ConfigError) as ei:
        collect(
            "instagram", ["shortcode:CxAbc01", "shortcode:CxAbc02"], root=root, cfg=offline_cfg(), **options
        )
    assert says in str(ei.value) and "SECRET" not in str(ei.value)
    assert not root.exists()


def test_a_session_file_instaloader_cannot_load_stops_the_run_before_anything_is_created(tmp_path, caplog):
    """Not every post failed ``ConfigError`` one by one (the loader rebuilt for each): the run
    stops at discovery, naming the option, and no post is recorded."""
    secret = tmp_path / "session-mia"
    secret.write_bytes(b"SECRET-COOKIE-VALUE")
    root = tmp_path / "data"
    targets = ["shortcode:CxAbc01", "shortcode:CxAbc02"]
    with pytest.raises(ConfigError) as ei:
        collect(
            "instagram",
            targets,
            root=root,
            cfg=offline_cfg(),
            session_file=str(secret),
            login="mia",
            workers=1,
        )
    assert ei.value.where == "--session-file" and "cannot load the session file" in str(ei.value)
    assert "SECRET" not in str(ei.value) and "SECRET" not in caplog.text
    assert not root.exists(), "the session file is checked before ROOT and the catalog are made"


class _Marker:
    """Unpickling this writes a file: what a crafted session file could do with any callable."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.path}",))


def test_a_session_file_that_names_a_callable_is_refused_unrun(tmp_path, caplog):
    """The finding: instaloader unpickles ``--session-file`` whole (``pickle.load``), so a
    session file shared as "my login" ran any code it named when the source opened. Only a
    pickled dict of cookie strings is read now; the file's callable is never called."""
    marker = tmp_path / "PWNED"
    secret = tmp_path / "session-mia"
    secret.write_bytes(pickle.dumps({"sessionid": "SECRET", "csrftoken": _Marker(str(marker))}))
    secret.chmod(0o600)
    root = tmp_path / "data"
    with pytest.raises(ConfigError) as ei:
        collect(
            "instagram",
            ["shortcode:CxAbc01"],
            root=root,
            cfg=offline_cfg(),
            session_file=str(secret),
            login="mia",
            workers=1,
        )
    assert not marker.exists(), "the session file's callable ran"
    assert ei.value.where == "--session-file" and "cannot load the session file" in str(ei.value)
    assert "SECRET" not in str(ei.value) and "SECRET" not in caplog.text
    assert not root.exists()


def test_a_session_file_of_cookies_is_read_as_instaloader_saves_it(tmp_path):
    """instaloader's own session file (a pickled dict of cookie strings) still loads."""
    path = tmp_path / "session-mia"
    cookies = {"sessionid": "s3cr3t", "csrftoken": "tok", "ds_user_id": "42", "mid": "m"}
    path.write_bytes(pickle.dumps(cookies))
    assert read_session_file(path) == cookies
    path.write_bytes(pickle.dumps(["sessionid", "s3cr3t"]))
    with pytest.raises(ValueError, match="does not hold cookies"):
        read_session_file(path)


def _post(code: str) -> dict:
    return structure(carousel(code, "https://cdn.example/v.mp4", ["https://cdn.example/i.jpg"]))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"node": 1', "not an instaloader structure file (Expecting ',' delimiter"),
        (
            json.dumps(_post("CxAbc05")).encode().replace(b"Weekend", b"W\xe9ekend"),  # Latin-1
            "structure file is not UTF-8 text (byte ",
        ),
        (b"[1, 2]", "not an instaloader structure file (no node and node_type)"),
        (
            json.dumps({"node": {"username": "nora"}, "instaloader": {"node_type": "Profile"}}).encode(),
            "structure is a Profile, not a Post",
        ),
        (
            json.dumps(structure({"__typename": "GraphVideo", "is_video": True})).encode(),
            "the saved post has no shortcode",
        ),
    ],
    ids=["cut-off-json", "latin-1", "a-list", "a-profile", "no-shortcode"],
)
def test_a_bad_structure_file_refuses_the_run_before_anything_is_created(tmp_path, content, says):
    """The finding: one broken ``.json`` among good ones ended the run part way (exit 2, no
    summary, ROOT and the catalog created, the files after it never collected)."""
    posts = tmp_path / "posts"
    posts.mkdir()
    for code in ("CxAbc01", "CxAbc02"):
        (posts / f"{code}.json").write_text(json.dumps(_post(code)))
    (posts / "M_broken.json").write_bytes(content)
    root = tmp_path / "data"
    with pytest.raises(DataFormatError) as ei:
        collect("instagram", [str(posts)], root=root, cfg=offline_cfg())
    assert ei.value.where == str(posts / "M_broken.json") and ei.value.message.startswith(says), ei.value
    assert not root.exists()


def test_structure_files_are_read_without_instaloader(tmp_path):
    """``.json.xz`` as instaloader writes it, and instaloader 3's shortcode-only files (whose
    post is read when collected, never during discovery)."""
    import lzma

    from collectors.instagram import read_structure

    xz = tmp_path / "CxXz01.json.xz"
    xz.write_bytes(lzma.compress(json.dumps(_post("CxXz01")).encode()))
    assert read_structure(xz)["shortcode"] == "CxXz01"
    broken = tmp_path / "Cut.json.xz"
    broken.write_bytes(xz.read_bytes()[:40])
    with pytest.raises(DataFormatError) as ei:
        read_structure(broken)
    assert ei.value.where == str(broken)
    old = tmp_path / "v3.json"
    old.write_text('{"shortcode": "CxOld03"}')
    assert read_structure(old) == "CxOld03"
    targets = [str(xz), str(old)]
    with open_source("instagram", targets, root=tmp_path / "o", catalog=tmp_path / "c.sqlite") as src:
        found = list(src.discover(targets))
    assert [(c.raw_id, c.payload is None) for c in found] == [("CxXz01", False), ("CxOld03", True)]


def test_an_xz_structure_file_that_decompresses_past_the_cap_is_refused_unbuilt(tmp_path):
    """The finding: a ``.json.xz`` was decompressed whole (``lzma.decompress``): a few MB of xz
    streams (concatenated: each one a small stream of blanks) grew to any size in memory before
    json saw a byte. Decompression stops at the readers' cap, naming the file; concatenated
    streams of a legitimate file still read."""
    import lzma

    from collectors.instagram import read_structure
    from schemas.text_input import MAX_RECORD_BYTES

    chunk = 16 * 2**20
    stream = lzma.compress(b" " * chunk, preset=0)
    bomb = tmp_path / "CxBomb.json.xz"
    bomb.write_bytes(stream * (MAX_RECORD_BYTES // chunk + 1))
    assert bomb.stat().st_size < 2**20
    with pytest.raises(DataFormatError, match="over 256 MiB once decompressed") as ei:
        read_structure(bomb)
    assert ei.value.where == str(bomb)
    doc = json.dumps(_post("CxTwo02")).encode()
    two = tmp_path / "CxTwo02.json.xz"
    two.write_bytes(lzma.compress(doc[:50]) + lzma.compress(doc[50:]))
    assert read_structure(two)["shortcode"] == "CxTwo02"


def test_an_empty_carousel_is_rejected_with_a_problem_line_saying_so(tmp_path):
    """A carousel listing no media is rejected ``no_video`` (final), and its problem line says
    the carousel is empty (it read as a post without a video, like one of images only)."""
    posts = tmp_path / "posts"
    posts.mkdir()
    empty = {**carousel("CxEmp04", "http://127.0.0.1:9/v.mp4", ["http://127.0.0.1:9/i.jpg"])}
    empty["edge_sidecar_to_children"] = {"edges": []}
    (posts / "CxEmp04.json").write_text(json.dumps(structure(empty)))
    s = collect(
        "instagram", [str(posts)], root=tmp_path / "o", catalog=tmp_path / "c.sqlite", cfg=offline_cfg()
    )
    assert s.reasons == {"no_video": 1}, s.human()
    (problem,) = s.problems
    assert problem["source_id"] == "CxEmp04" and "empty carousel" in (problem["message"] or ""), problem
    assert "empty carousel" in s.human()
