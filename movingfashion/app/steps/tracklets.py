"""Demo step ``tracklets``: tracklets on the published demo dataset with the embedded weights,
contact sheets, and the acceptance figures against the synthetic world's truth."""

from __future__ import annotations

from dataclasses import dataclass, field

from movingfashion.app.context import DemoContext, Section, StepSkipped

#: Detect every 2nd frame (the figures of the README were measured so).
STRIDE = 2


@dataclass
class TrackletsSection(Section):
    videos: int
    processed: int
    skipped_done: int
    failed: int
    needs_review: int
    frames_detected: int
    frames_per_second: float
    sheets: str
    detector: str
    matcher: str
    # against the world's truth (None without a world)
    qa_videos: int | None = None
    mean_iou: float | None = None
    pass_rate_50pct: float | None = None
    query_mean_iou: float | None = None
    flag_rate: float | None = None  #: share of the videos flagged needs_review
    flag_recall: float | None = None  #: share of the videos failing the >=50% check that are flagged
    #: products whose split-file entry is refused (a bad box, a malformed number, a frame key
    #: twice): held out of the build and the figures, each named (file, product, what to do)
    held_out: list[str] = field(default_factory=list)

    def summary(self) -> str:
        qa = ""
        if self.mean_iou is not None:
            qa = f"; mean IoU {self.mean_iou:.3f}, >=50% check passed by {100 * (self.pass_rate_50pct or 0):.1f}%"
            if self.flag_recall is not None:
                qa += f", {100 * self.flag_recall:.0f}% of the failing videos flagged"
        return f"{self.processed} videos processed, {self.failed} failed, {self.needs_review} need review{qa}"

    def incomplete(self) -> str | None:
        why = [f"{self.failed} videos could not be read (see mf-tracklets build)"] if self.failed else []
        if self.held_out:
            why.append(f"{len(self.held_out)} held out: " + "; ".join(self.held_out))
        return "; ".join(why) or None


def expected_seconds(ctx: DemoContext) -> float:
    """~60 detected frames/s on 2 cores at stride 2: 150 products in 74-80 s, ~0.5 s per
    product; 24 with --quick (short clips, fewer published) in 6 s (measured 2026-12-07)."""
    return 5.0 + ctx.products * (0.1 if ctx.quick else 0.5)


def run(ctx: DemoContext) -> TrackletsSection:
    """Build tracklets on ``ctx.dataset`` (stride 2) with contact sheets and report QA figures
    against ``ctx.world`` (the embedded weights were trained on the 60-product seed-0 world, so
    there the figures are not held-out ones)."""
    from annotations.builder import build_dataset_tracklets, load_splits_rows, video_jobs
    from annotations.config import BuildConfig

    if ctx.dataset is None:
        raise StepSkipped("no dataset (the clean/publish step did not run)")
    # the build's policy (on_bad="skip"): a product whose split-file entry is refused is held out
    read = load_splits_rows(ctx.dataset)
    n = len(video_jobs(read.splits, held_videos=read.held_videos))
    ctx.progress.info(f"{n} videos, stride {STRIDE}, embedded detector and matcher")
    with ctx.progress.counter("tracklets", total=n, unit="videos") as bar:
        rep = build_dataset_tracklets(
            ctx.dataset,
            config=BuildConfig(stride=STRIDE),
            catalog=ctx.catalog,
            sheets=True,
            on_video=lambda job, outcome, r: bar.update(),
        )
    section = TrackletsSection(
        videos=rep.videos,
        processed=rep.processed,
        skipped_done=rep.skipped,
        failed=len(rep.failed),
        needs_review=len(rep.needs_review),
        frames_detected=rep.frames_detected,
        frames_per_second=round(rep.fps, 1),
        sheets=str(ctx.dataset / "tracklets" / "sheets"),
        detector=rep.detector,
        matcher=rep.matcher,
        held_out=[str(h["error"]) for h in rep.held_out],
    )
    if ctx.world is not None:
        from movingfashion.world.scoring.tracklets import score_tracklets

        qa = score_tracklets(ctx.dataset, ctx.world, on_bad="skip")
        section.qa_videos = qa.videos
        section.mean_iou = round(qa.mean_iou, 3)
        section.pass_rate_50pct = round(qa.pass_rate, 3)
        section.query_mean_iou = round(qa.query_mean_iou, 3)
        section.flag_rate = round(qa.flag_rate, 3)
        section.flag_recall = None if qa.flag_recall is None else round(qa.flag_recall, 3)
        ctx.tracklet_flags = (section.flag_recall, section.flag_rate)
    return section
