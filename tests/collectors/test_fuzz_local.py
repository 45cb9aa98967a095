"""Fuzzed mf-collect local manifests (JSON lines and CSV) and shop maps: each reads to rows or
raises one DataFormatError naming the file; a name longer than a file system takes (255 bytes)
is refused naming the file, line and field, never an OSError (ENAMETOOLONG) from a stat."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings

from collectors.config import LocalConfig
from collectors.local import read_targets
from collectors.shopmap import load_shop_map
from collectors.urls import read_url_list
from schemas.errors import DataFormatError
from tests.fuzz_json import assert_clear, damage, encode, mutate, randoms

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = "x" * 300
ROWS = [
    {
        "video": "clips/a.mp4",
        "shop_image": "clips/a.jpg",
        "id": "alpha",
        "partition": "regular",
        "class": "trousers",
    },
    {
        "video": "clips/b.mp4",
        "shop_image": "clips/b.jpg",
        "id": "b",
        "partition": "hard",
        "class": 3,
        "title": "T",
    },
]


@pytest.fixture
def home(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "a.jpg", "b.mp4", "b.jpg"):
        (tmp_path / "clips" / name).write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "text", "field", "line"),
    [
        ("m.csv", f"video,shop_image\nclips/a.mp4,{LONG}.jpg\n", "shop image", 2),
        ("m.csv", f"video,shop_image\nclips/a.mp4,clips/{LONG}/a.jpg\n", "shop image", 2),
        ("m.jsonl", json.dumps({"video": "clips/a.mp4", "shop_image": LONG}) + "\n", "shop image", 1),
        ("m.csv", f"video\n{LONG}.mp4\n", "video", 2),
    ],
)
def test_a_name_too_long_for_a_file_system_names_the_line(home, name, text, field, line):
    (home / name).write_text(text)
    with pytest.raises(
        DataFormatError, match=f"{field} '.*' has a file or folder name of 30[0-9] bytes"
    ) as exc:
        read_targets([str(home / name)], LocalConfig())
    assert str(exc.value).startswith(f"{home / name} line {line}: ") and "shorten the name" in str(exc.value)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_shop_map_or_url_list_with_a_name_too_long_is_refused(home, suffix):
    shop_map = home / f"map{suffix}"
    row = {"video": "7300000000000000001", "shop": LONG + ".jpg"}
    shop_map.write_text(
        json.dumps(row) + "\n" if suffix == ".jsonl" else f"video,shop\n{row['video']},{row['shop']}\n"
    )
    with pytest.raises(DataFormatError, match="longer than 255") as exc:
        load_shop_map(shop_map)
    assert str(shop_map) in str(exc.value)
    urls = home / "urls.txt"
    urls.write_text(f"https://www.tiktok.com/@u/video/7300000000000000001 {LONG}.jpg\n")
    with pytest.raises(DataFormatError, match="longer than 255") as exc:
        read_url_list([str(urls)])
    assert str(urls) in str(exc.value)


def _csv(doc) -> bytes:
    """The rows as CSV with the first row's keys as header (other shapes: their JSON text)."""
    if not (isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc)):
        return encode(doc)
    buf = io.StringIO()
    keys = list(doc[0])
    writer = csv.writer(buf)
    writer.writerow(keys)
    writer.writerows([str(r.get(k, "")) for k in keys] for r in doc)
    return buf.getvalue().encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
@settings(FUZZ)
@given(rng=randoms)
def test_a_mutated_manifest_reads_or_is_one_data_format_error(home, suffix, rng):
    doc = mutate(rng, ROWS)
    path = home / f"manifest{suffix}"
    if suffix == ".csv":
        data = _csv(doc)
    elif isinstance(doc, list):
        data = b"\n".join(encode(row) for row in doc)
    else:
        data = encode(doc)
    path.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    assert_clear(lambda p: read_targets([str(p)], LocalConfig()), path, DataFormatError)
