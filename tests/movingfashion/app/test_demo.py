"""The demo orchestrator: typed steps in order, one report printed once, JSON alone on stdout,
failures reported with exit 1. Fake steps keep these fast; test_demo_e2e.py runs the real ones."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from movingfashion.app import demo as demo_mod
from movingfashion.app.context import DemoContext, Section, StepSkipped
from movingfashion.app.demo import Step, format_report, run_demo
from movingfashion.app.progress import StageProgress
from schemas.errors import MediaError

TABLE = "method   T-1\nSEAM     0.750\nchance   0.100"


@dataclass
class CountSection(Section):
    items: int
    by_source: dict[str, int]

    def summary(self) -> str:
        return f"{self.items} items"


@dataclass
class TableSection(Section):
    top1: float
    table: str

    def blocks(self) -> list[tuple[str, str]]:
        return [("table", self.table)]


def _first(ctx: DemoContext) -> CountSection:
    ctx.dataset = ctx.work / "dataset"
    print("a stray print from a library")  # must not reach stdout
    return CountSection(items=ctx.products, by_source={"netaporter": 2, "tiktok": 1})


def _second(ctx: DemoContext) -> TableSection:
    if ctx.dataset is None:
        raise StepSkipped("no dataset")
    return TableSection(top1=0.75, table=TABLE)


def _broken(ctx: DemoContext) -> Section:
    raise MediaError("cannot decode", where="videos/1_0.mp4")


FAKE = (Step("first", _first, lambda c: 2.0), Step("second", _second, lambda c: 3.0))


@pytest.fixture()
def fake_steps(monkeypatch):
    monkeypatch.setattr(demo_mod, "STEPS", FAKE)
    monkeypatch.setattr(demo_mod, "run_demo", lambda ctx, steps=FAKE: run_demo(ctx, steps))


def test_steps_run_in_order_and_hand_on_typed_state(tmp_path):
    ctx = DemoContext(work=tmp_path, products=30)
    report = run_demo(ctx, FAKE)
    assert [s.name for s in report.stages] == ["first", "second"] and report.ok
    assert report.stages[0].section == CountSection(items=30, by_source={"netaporter": 2, "tiktok": 1})
    d = report.as_dict()
    assert d["stages"]["second"]["top1"] == 0.75 and d["stages"]["first"]["status"] == "ok"
    assert d["products"] == 30 and d["seconds"] >= 0


def test_text_report_prints_the_table_once_and_nested_counts_as_rows(tmp_path):
    text = format_report(run_demo(DemoContext(work=tmp_path), FAKE))
    assert text.count(TABLE) == 1 and text.count("SEAM     0.750") == 1
    assert "  netaporter: 2" not in text and "  by_source: netaporter 2, tiktok 1" in text
    assert "\\n" not in text and "[first] ok" in text and "[second table]" in text


def test_json_output_is_one_document_and_nothing_else(fake_steps, tmp_path):
    res = CliRunner().invoke(demo_mod.demo, ["--out", str(tmp_path), "--json", "--threads", "0"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # the whole stdout is one JSON document
    assert doc["ok"] and list(doc["stages"]) == ["first", "second"]
    assert doc["stages"]["second"]["table"] == TABLE
    assert "stray print" not in res.stdout and "stray print" in res.stderr
    assert "== [1/2] first" in res.stderr and "== [2/2] second" in res.stderr


def test_text_output_prints_the_report_once(fake_steps, tmp_path):
    res = CliRunner().invoke(demo_mod.demo, ["--out", str(tmp_path), "--threads", "0"])
    assert res.exit_code == 0, res.output
    assert res.stdout.count(TABLE) == 1 and res.stdout.count("MovingFashion demo report") == 1
    assert "{" not in res.stdout  # no JSON dumps of the sections
    assert TABLE not in res.stderr  # progress lines only on stderr


def test_quick_is_small(monkeypatch, tmp_path):
    seen = {}

    def capture(ctx, steps=FAKE):
        seen["products"], seen["quick"] = ctx.products, ctx.quick
        return run_demo(ctx, steps)

    monkeypatch.setattr(demo_mod, "run_demo", capture)
    assert (
        CliRunner().invoke(demo_mod.demo, ["--out", str(tmp_path), "--quick", "--threads", "0"]).exit_code
        == 0
    )
    assert seen == {"products": 24, "quick": True}
    res = CliRunner().invoke(demo_mod.demo, ["--work", str(tmp_path), "--threads", "0"])  # the old name
    assert res.exit_code == 0 and "use --out instead" in res.stderr
    assert seen == {"products": 150, "quick": False}


def test_a_failed_step_is_reported_the_next_skipped_and_exit_1(monkeypatch, tmp_path):
    steps = (Step("first", _broken, lambda c: 1.0), Step("second", _second, lambda c: 1.0))
    monkeypatch.setattr(demo_mod, "run_demo", lambda ctx, steps=steps: run_demo(ctx, steps))
    res = CliRunner().invoke(demo_mod.demo, ["--out", str(tmp_path), "--json", "--threads", "0"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert not doc["ok"] and doc["stages"]["first"]["status"] == "failed"
    assert (
        "cannot decode" in doc["stages"]["first"]["reason"] and "1_0.mp4" in doc["stages"]["first"]["reason"]
    )
    assert doc["stages"]["second"] == {
        "status": "skipped",
        "seconds": doc["stages"]["second"]["seconds"],
        "reason": "no dataset",
    }


def test_progress_names_stages_with_their_eta(tmp_path, capsys):
    import io

    stream = io.StringIO()
    run_demo(DemoContext(work=tmp_path, progress=StageProgress(stream, bars=False)), FAKE)
    out = stream.getvalue()
    assert "2 stages (first, second), about 5 s expected" in out
    assert "== [1/2] first (expected 2 s; about 5 s left in all)" in out
    assert "done in 0 s: 150 items" in out
    assert "== [2/2] second" in out


def test_sections_never_shadow_the_stage_keys():
    import dataclasses

    from movingfashion.app.steps import clean, collect, loader, publish, seam, tracklets, world

    classes = [
        publish.PublishSection,
        world.WorldSection,
        collect.CollectSection,
        clean.CleanSection,
        tracklets.TrackletsSection,
        loader.LoaderSection,
        seam.SeamSection,
    ]
    for cls in classes:
        assert issubclass(cls, Section)
        assert not {f.name for f in dataclasses.fields(cls)} & {"status", "seconds", "reason"}, cls
