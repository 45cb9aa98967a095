"""A listing target whose page number is not a whole number is one input error (exit 2, one
line naming the target), before anything is created; a whole number starts there."""

from __future__ import annotations

import pytest

from tests.collectors.fakesite import FakeSite, Route
from tests.mf_cli import run_command


@pytest.mark.parametrize(
    "target", ["/en-us/shop/clothing?pageNumber=abc", "/en-us/shop/clothing?pageNumber=-1"]
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_a_page_number_that_is_no_whole_number_exits_2_naming_the_target(tmp_path, capsys, target, dry_run):
    from collectors.cli import collect as mf_collect

    args = ["netaporter", target, "--root", str(tmp_path / "d"), "--base-url", "http://127.0.0.1:9"]
    code, out, err = run_command(mf_collect, args + (["--dry-run"] if dry_run else []), capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {target}: listing page number pageNumber=")
    assert not (tmp_path / "d").exists()


def test_a_page_number_in_an_id_file_is_checked_too(tmp_path, capsys):
    from collectors.cli import collect as mf_collect

    ids = tmp_path / "ids.txt"
    ids.write_text("1234567\n/en-us/shop/clothing?pageNumber=2x\n")
    args = ["netaporter", f"@{ids}", "--root", str(tmp_path / "d"), "--base-url", "http://127.0.0.1:9"]
    code, _, err = run_command(mf_collect, args, capsys)
    assert code == 2 and "pageNumber='2x'" in err, err


def test_a_whole_page_number_starts_the_listing_there(tmp_path, capsys):
    from collectors.cli import collect as mf_collect
    from collectors.netaporter import _page_number

    assert _page_number("https://x/l?pageNumber=3", "pageNumber") == 3
    assert _page_number("https://x/l?pageNumber=", "pageNumber") is None
    with FakeSite() as site:
        site.routes["/en-us/shop/clothing?pageNumber=3"] = Route(
            b"<html><a href='/en-us/shop/product/1234567'>x</a></html>", content_type="text/html"
        )
        args = ["netaporter", "/en-us/shop/clothing?pageNumber=3", "--root", str(tmp_path / "d")]
        code, out, err = run_command(mf_collect, [*args, "--base-url", site.base, "--dry-run"], capsys)
    assert code == 0 and "1234567" in out, err
    assert site.hits["/en-us/shop/clothing?pageNumber=4"] == 1  # went on from page 3
