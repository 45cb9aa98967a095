"""The bad-input table of the security audit, through the real readers: every hostile form of a
path a split file can hold (``../``, absolute, NUL, a name too long, Windows ``..\\``, a UNC or
drive path, a trailing newline) is refused by the official reader with a
:class:`~schemas.paths.PathEscapeError` naming the file, the product and the field; the
percent-encoded forms (``%2e%2e``) are names, never decoded, so they stay inside the root; the
review server's ``/media/`` route decodes once and refuses the same forms, and a link out of
the dataset."""

from __future__ import annotations

import json
import os

import pytest

from annotations.review.media import Refused, resolve_media
from schemas.official import read_official
from schemas.paths import PathEscapeError, resolve_under

GOOD = {
    "video_paths": ["videos/p_0.mp4"],
    "img_path": "imgs/p.jpg",
    "source": 1,
    "tracklets": [{"0": [0, 0, 1, 1]}],
}

#: (hostile value, what the refusal says)
REFUSED = [
    ("../x.mp4", "'..' part"),
    ("videos/../../x.mp4", "'..' part"),
    ("/etc/passwd", "absolute"),
    ("videos/a\x00.mp4", "NUL"),
    ("videos\\..\\..\\x.mp4", "backslash"),
    ("C:\\x.mp4", "backslash"),
    ("C:/x.mp4", "absolute"),
    ("\\\\host\\share\\x.mp4", "backslash"),
    ("videos/x.mp4\n", "control character"),
    ("videos/" + "a" * 300 + ".mp4", "longer than 255"),
    ("videos/" + "é" * 130 + ".mp4", "longer than 255"),  # 260 bytes in UTF-8
]
#: literal names with no special meaning on disk: accepted, and they stay inside
LITERAL = ["%2e%2e/%2e%2e/x.mp4", "..%2f..%2fx.mp4", "videos/%2e%2e.mp4", "ｖ/..／x.mp4"]
FIELDS = [("video_paths", "video_paths[0]"), ("img_path", "img_path")]


def _split(tmp_path, field: str, value: str):
    entry = dict(GOOD)
    entry[field] = [value] if field == "video_paths" else value
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"prod1": entry}), encoding="utf-8")
    return path


@pytest.mark.parametrize(("field", "shown"), FIELDS)
def test_every_hostile_path_is_refused_naming_file_product_and_field(tmp_path, field, shown):
    for value, why in REFUSED:
        path = _split(tmp_path, field, value)
        with pytest.raises(PathEscapeError) as err:
            read_official(path)
        text = str(err.value)
        assert str(path) in text and "product 'prod1'" in text and f"field '{shown}'" in text, text
        assert why in text, (value, text)


@pytest.mark.parametrize(("field", "_shown"), FIELDS)
def test_percent_encoded_names_are_names_that_stay_inside(tmp_path, field, _shown):
    root = tmp_path / "ds"
    for value in LITERAL:
        split = read_official(_split(tmp_path, field, value))
        got = split["prod1"].video_paths[0] if field == "video_paths" else split["prod1"].img_path
        assert got == value  # never decoded
        full = os.path.abspath(resolve_under(root, got))
        assert full.startswith(str(root) + os.sep), full


def test_the_review_media_route_decodes_once_and_refuses_what_leaves(tmp_path):
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    (root / "videos" / "%2e%2e.mp4").write_bytes(b"v")
    (tmp_path / "secret.mp4").write_bytes(b"s")
    (root / "videos" / "out.mp4").symlink_to(tmp_path / "secret.mp4")
    assert resolve_media(root, "videos/%252e%252e.mp4") == root / "videos" / "%2e%2e.mp4"
    for raw in (
        "videos/%2e%2e/%2e%2e/secret.mp4",
        "videos/..%2f..%2fsecret.mp4",
        "videos/%2E%2E%5C%2E%2E%5Csecret.mp4",
        "%2fetc%2fpasswd",
        "videos/a%00.mp4",
        "videos/" + "a" * 300 + ".mp4",
        "videos/out.mp4",  # a link out of the dataset
    ):
        with pytest.raises(Refused):
            resolve_media(root, raw)
