"""``mf verify`` on a split file where one product's entry holds a malformed number (``12.5e``):
it refused the whole folder with "malformed JSON" (exit 2) where every split reader holds that
product out. Now it reads the file entry by entry as they do (``schemas.official``): a break
names the split file, the product, the field, the video's frame key and the fix, the other
products are checked as before, and a frame key twice in another entry of the same file is still
named by the repeats check; exit 1."""

from __future__ import annotations

import json
import shutil

from movingfashion.archive.verify import verify_dataset
from tests.damage import unreadable_box
from tests.mf_cli import run_mf


def _offenders(doc: dict, check: str) -> list[dict]:
    return next(c for c in doc["checks"] if c["check"] == check)["offenders"]


def test_the_product_is_named_and_the_others_checked(archive_dir, tmp_path, capsys):
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    unreadable_box(root / "test.json", "h2", "malformed number", key="3")
    code, out, err = run_mf(["verify", "--dataset", str(root), "--json"], capsys)
    assert code == 1, err
    doc = json.loads(out)
    assert doc["breaks"] == 1 and doc["products"] == {"train": 2, "test": 2}
    ((bad,),) = [_offenders(doc, "schema")]
    assert (bad["split"], bad["product"], bad["field"]) == ("test", "h2", "tracklets[0]")
    for part in ("test.json", "'videos/h2_0.mp4'", "frame key '3'", "malformed number"):
        assert part in bad["problem"], bad
    assert "four JSON numbers" in bad["fix"] and "hold the product out" in bad["fix"]
    # every other check ran over every product, h2's other fields included (its video decoded)
    status = {c["check"]: c["status"] for c in doc["checks"]}
    assert status.pop("schema") == "break" and set(status.values()) <= {"ok", "skipped"}
    assert next(c for c in doc["checks"] if c["check"] == "decodable")["checked"] == 9
    code, out, _ = run_mf(["verify", "--dataset", str(root)], capsys)
    assert code == 1 and "test/h2 tracklets[0]" in out and "frame key '3'" in out


def test_a_frame_key_twice_beside_it_is_still_a_repeat(archive_dir, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    unreadable_box(root / "train.json", "h1", "malformed number", key="2")
    text = (root / "train.json").read_text()
    at = text.index('"3": [', text.index('"r1"'))
    (root / "train.json").write_text(text[:at] + '"3": [1, 1, 20, 20], ' + text[at:])
    report = verify_dataset(root)
    got = {(b.check, b.split, b.product, b.field) for b in report.breaks}
    assert got == {
        ("schema", "train", "h1", "tracklets[0]"),
        ("repeats", "train", "r1", "tracklets[0]"),
    }, [b.describe() for b in report.breaks]
    assert report.products == {"train": 2, "test": 2}


def test_an_entry_that_does_not_read_at_all_is_named(archive_dir, tmp_path):
    """A malformed number outside the tracklets (``source``): the product is named, not checked;
    the others are."""
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    text = (root / "train.json").read_text()
    at = text.index('"source": ', text.index('"r1"')) + len('"source": ')
    (root / "train.json").write_text(text[:at] + "1.e" + text[at + 1 :])
    report = verify_dataset(root)
    ((bad,),) = [report.breaks]
    assert (bad.check, bad.split, bad.product, bad.field) == ("schema", "train", "r1", "(entry)")
    assert "field 'source'" in bad.problem and "train.json" in bad.problem
    assert report.products == {"train": 1, "test": 2}
