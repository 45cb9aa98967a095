"""Thresholds of the cleaning stage: one pydantic model with documented defaults (YAML override)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.dataset import DatasetInfo


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: bounds of the probe's thresholds: past them a value is a typo (``min_frames: 1e18`` rejected every
#: video as too_short without a word): a day of video at 120 fps, a day, the largest side (px)
#: FFmpeg's decoders take
MAX_PROBE_FRAMES = 86_400 * 120
MAX_PROBE_SECONDS = 86_400.0
MAX_PROBE_SIDE = 32_768


class ProbeConfig(_Model):
    """Media validation thresholds."""

    min_frames: int = Field(
        default=10,
        ge=1,
        le=MAX_PROBE_FRAMES,
        description="videos with fewer decodable frames are rejected",
    )
    min_duration_s: float = Field(
        default=0.5, ge=0, le=MAX_PROBE_SECONDS, description="videos shorter than this are rejected"
    )
    min_video_side: int = Field(
        default=64, ge=1, le=MAX_PROBE_SIDE, description="smallest allowed video width/height (px)"
    )
    min_image_side: int = Field(
        default=32, ge=1, le=MAX_PROBE_SIDE, description="smallest allowed image width/height (px)"
    )
    max_duration_s: float = Field(
        default=900.0,
        gt=0,
        le=MAX_PROBE_SECONDS,
        description="videos longer than this are rejected (too_long): every later stage costs time in "
        "proportion (MovingFashion's videos last 13-16 s; TikTok and Instagram allow up to 10-15 min)",
    )
    max_frames: int = Field(
        default=54_000,
        ge=1,
        le=MAX_PROBE_FRAMES,
        description="videos with more decodable frames are rejected (too_long; 15 min at 60 fps)",
    )
    max_video_pixels: int = Field(
        default=3840 * 2160,
        ge=1,
        le=MAX_PROBE_SIDE * MAX_PROBE_SIDE,
        description="videos whose frames have more pixels are rejected (too_large; 4K UHD passes, 8K "
        "does not): a whole frame costs 3 bytes a pixel in every decoder and loader",
    )
    frame_count_tolerance: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="declared vs decoded frame count may differ by this fraction before the file is "
        "called truncated",
    )


class DedupConfig(_Model):
    """Near-duplicate and partial-duplicate detection (method in :mod:`cleaning.dedup`)."""

    step_s: float = Field(
        default=0.0667,
        gt=0,
        description="time step between fingerprinted frames (s); a sub-clip starts at most "
        "half a step off the grid (1 frame at 30 fps)",
    )
    max_frames: int = Field(default=600, ge=2, description="at most this many fingerprinted frames per video")
    crop_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="centre crop kept before hashing a shop image (robust to small crops)",
    )
    trim_bars: bool = Field(
        default=True, description="hash the picture inside letterbox/pillarbox bars, not the padded frame"
    )
    max_paired_bar: float = Field(
        default=0.7,
        ge=0,
        lt=1,
        description="with trim_bars: a bar is cut up to 0.4 of a side, or up to this when the opposite "
        "side has a bar of the same colour too (a picture off centre between two bars: a 9:16 clip in a "
        "16:9 frame leaves 68% of the width to its bars)",
    )
    max_lone_bar: float = Field(
        default=0.7,
        ge=0,
        lt=1,
        description="with trim_bars: a bar with none opposite (a clip at the top of a tall frame over a "
        "large, often captioned bar) is cut beyond 0.4 of a side, up to this, only when it is flat "
        "(lone_bar_max_spread) and meets the picture at a straight edge across the frame "
        "(lone_bar_min_seam, lone_bar_min_edge), which a still wall or a still picture beside the clip "
        "does not; 0.4 or less: never beyond 0.4",
    )
    lone_bar_max_spread: float = Field(
        default=1.0,
        ge=0,
        description="with max_lone_bar: the median over a lone bar's lines of the grey levels' standard "
        "deviation along a line is at most this (planted bars 0.0 after re-encoding; still walls and "
        "still pictures of world videos 2.5 and more)",
    )
    lone_bar_min_seam: float = Field(
        default=4.0,
        gt=0,
        description="with max_lone_bar: the step across the lone bar's inner edge is at least this many "
        "times the picture's median line-to-line step (planted bars 20-37; a still wall of world seed "
        "402 0.5)",
    )
    lone_bar_min_edge: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="with max_lone_bar: the step across the lone bar's inner edge exceeds 8 grey levels "
        "on at least this share of the pixels along it (a straight edge across the frame: planted bars "
        "1.00, a still wall 0.00)",
    )
    lone_bar_check_from: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="with max_lone_bar over 0.4: a still dark or bright band with no bar opposite, wider "
        "than this share of a side (and up to 0.4), is cut only when it passes the same flatness and "
        "edge tests, else not at all (a crop's still wall of 31% was cut as a bar: world seed 402); "
        "1: every band up to 0.4 is cut, as before",
    )
    window_scales: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default=[0.9, 0.8, 0.7, 0.62],
        description="scales of the smaller windows hashed per query frame (3x3 shifted windows each): "
        "a copy cropped or zoomed to about these fractions of its source matches one of them",
    )
    window_shift: float = Field(
        default=0.03, ge=0, le=0.5, description="shift of the off-centre windows (fraction of the box)"
    )
    part_fraction: float = Field(
        default=0.72,
        gt=0,
        le=1,
        description="height of the top and bottom part views (a caption band over one end spares the other)",
    )
    query_frames: int = Field(
        default=48, ge=1, description="frames per video whose windows query the index (evenly spread)"
    )
    max_speed_change: float = Field(
        default=2.0, ge=1, description="speed changes up to this factor (and its inverse) are aligned"
    )
    min_coverage: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="an alignment must lay at least this share of one video inside the other",
    )
    index_radius: int = Field(
        default=7,
        ge=0,
        le=32,
        description="Hamming radius of the candidate search in the frame-hash index "
        "(re-encoded frames are usually within a few bits); with index_chunks it must keep the "
        "probes per query at most cleaning.mih.MAX_PROBES (100000: radius at most 3 with 1 chunk, "
        "9 with 2, 17 with 3, 27 with 4, any from 5)",
    )
    frame_distance: int = Field(
        default=12,
        ge=0,
        le=64,
        description="max Hamming distance of two aligned frames counted as matching (hash-only check)",
    )
    image_distance: int = Field(
        default=8, ge=0, le=64, description="max Hamming distance of two duplicate shop images"
    )
    image_colour_tolerance: float = Field(
        default=20.0,
        ge=0,
        le=255,
        description="max mean absolute difference of the 4x4 colour thumbnails of two duplicate images",
    )
    image_pixel_tolerance: float | None = Field(
        default=3.0,
        ge=0,
        le=255,
        description="two shop images with different bytes are duplicates (one product) only when, resized "
        "to 64x80, their pixels differ by at most this mean absolute grey level "
        "(cleaning.dedup.image_difference): a JPEG re-encode of one picture 1.2, confusable twins "
        "5.4 and other products of one cut on the same studio background 6-40 (demo world, seed 0, "
        "where pHash and colour alone chained 51 pictures of other products into 14 products); "
        "None = pHash and colour only",
    )
    min_matched_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="hash-only check (no file to verify on): this fraction of the aligned frames must match",
    )
    min_shared_frames: int = Field(
        default=3, ge=1, description="candidate pairs must share at least this many near frames"
    )
    index_chunks: int = Field(
        default=4,
        ge=1,
        le=16,
        description="multi-index hashing: number of substrings of each 64-bit code in the shop-image "
        "index (and the benchmark's); each is probed within radius // index_chunks bits. The frame "
        "index picks its own count from its size and index_radius (cleaning.mih.choose_chunks: about "
        "64 / log2(distinct codes)), so its buckets stay small as the dataset grows",
    )
    max_hypotheses: int = Field(
        default=3, ge=1, description="alignments (window, mirror, speed, offset) verified per candidate pair"
    )
    verify_frames: int = Field(
        default=12, ge=3, description="frame pairs decoded and compared to verify a candidate pair"
    )
    verify_cells: int = Field(default=4, ge=1, le=16, description="verification grid: cells per side")
    verify_keep: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="share of the best-matching cells averaged (an overlay over the rest is ignored)",
    )
    verify_margin: float = Field(
        default=0.03,
        ge=0,
        lt=0.25,
        description="share of each side of the registered views left out of the comparison (2 of 64 "
        "pixels): the edge of a picture between bars bleeds into its outer pixels (the bar's colour, "
        "compression ringing at the seam), which scored a 16:9 pillarbox re-post 0.865 against its "
        "source (0.96 without them); 0 compares the whole views",
    )
    verify_threshold: float = Field(
        default=0.83,
        ge=-1,
        le=1,
        description="verified pairs scoring at least this are duplicates (benchmarks/bench_dedup.py "
        "prints the scores of duplicates and non-duplicates it sits between)",
    )
    match_reversed: bool = Field(
        default=True,
        description="also align time-reversed copies (a re-post played backwards, whole or cut: a "
        "negative speed of the time map, verified on pixels like any other alignment)",
    )
    match_rotated: bool = Field(
        default=True,
        description="also align copies turned 90, 180 or 270 degrees (a phone clip re-encoded "
        "rotated, or with its rotation tag dropped): the fingerprint keeps the hashes of every "
        "sample's box turned, verified on pixels like any other alignment",
    )
    match_mirrored_rotated: bool = Field(
        default=True,
        description="also align copies mirrored left-right and turned 90, 180 or 270 degrees (a mirrored "
        "re-post whose rotation was baked in or lost; mirrored and turned 180 degrees is a vertical "
        "flip): three more hashes per sample from the same DCT coefficients, verified on pixels like "
        "any other alignment",
    )
    fill_aspects: list[Annotated[float, Field(gt=0)]] = Field(
        default=[0.5625, 0.75, 0.8, 1.0, 1.7778],
        description="frame aspects (width / height: 9:16, 3:4, 4:5, 1:1, 16:9) a re-post may be cropped "
        "to fill: every sample of the windows query also hashes the largest window of each such aspect "
        "in its content box that keeps 30-90% of the cut side (cleaning.views.fill_windows: a copy "
        "zoomed in to fill a square or portrait frame, two borders cut); [] = none",
    )
    fill_step: float = Field(
        default=0.06,
        gt=0,
        le=1,
        description="crop-to-fill windows are hashed at the centre and every this share of the "
        "window's cut side to either side (a window off by 3% of its side is a few bits away, by 5% "
        "about 15)",
    )
    fill_span: float = Field(
        default=0.1,
        ge=0,
        le=0.5,
        description="crop-to-fill windows go up to this share of the slack (the part of the side "
        "the crop cuts) off centre: a crop placed further off centre is not matched",
    )
    strip_blurred_fill: bool = Field(
        default=True,
        description="with trim_bars: hash the picture inside a blurred fill (the clip fitted into a frame "
        "of another aspect over a blurred, enlarged copy of itself), not the filled frame "
        "(cleaning.borders.blurred_fill_box)",
    )
    fill_max_detail: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="with strip_blurred_fill: lines at both ends of the box whose detail (mean |frame - "
        "its blur|) is below this share of the box's 90th percentile are fill bands",
    )
    fill_min_seam: float = Field(
        default=2.0,
        gt=0,
        description="with strip_blurred_fill: both fill bands must meet the picture at a straight edge "
        "at least this many times as sharp as the picture's median line-to-line change (planted fills "
        "2.6-14; smooth walls and defocused backgrounds of demo world videos at most 1.4)",
    )
    fill_min_copy: float = Field(
        default=0.6,
        ge=-1,
        le=1,
        description="with strip_blurred_fill: the bands are a fill only when they correlate by at least "
        "this with the picture between them enlarged to cover the frame and blurred (a defocused "
        "background beside a sharp subject does not)",
    )

    @model_validator(mode="after")
    def _index_probes(self) -> DedupConfig:
        """Refuse an index that would list more chunk values per query than it can hold."""
        from cleaning.mih import MAX_PROBES, probes

        n = probes(self.index_chunks, self.index_radius)
        if n > MAX_PROBES:
            raise ValueError(
                f"dedup.index_chunks {self.index_chunks} with dedup.index_radius {self.index_radius}: "
                f"the frame index would probe {n} chunk values per query (at most {MAX_PROBES}); "
                "raise index_chunks or lower index_radius (default 4 and 7)"
            )
        return self


class SplitScreenConfig(_Model):
    """Split-screen (still half + moving half) detection."""

    sample_frames: int = Field(default=16, ge=4, description="frames sampled for the temporal variance")
    still_threshold: float = Field(
        default=4.0, ge=0, description="mean per-pixel temporal std (grey levels) below which a half is still"
    )
    moving_threshold: float = Field(
        default=8.0, ge=0, description="mean per-pixel temporal std above which a half is moving"
    )
    min_still_fraction: float = Field(
        default=0.97, gt=0, le=1, description="fraction of a still half's pixels that must be still"
    )
    pixel_still_std: float = Field(default=6.0, ge=0, description="per-pixel std counted as 'still'")
    min_still_detail: float = Field(
        default=4.0,
        ge=0,
        description="the still half must show something: one colour channel of its picture must vary "
        "(spatial std, grey levels) by at least this much, else it is a blank bar or card and the "
        "video is not split-screen (cleaning.splitscreen.still_detail: a compressed black, grey or white "
        "half under 0.3; 264 shop images and stills of demo worlds, seeds 0-3, 5 and 47, 8.3-98)",
    )


class ShopPickConfig(_Model):
    """Carousel shop pick (:mod:`cleaning.shop_pick`): which candidates count as product shots and
    how the video is sampled for the colour comparison."""

    sample_frames: int = Field(
        default=8, ge=1, description="frames sampled evenly over the video for the colour comparison"
    )
    plain_border_std: float = Field(
        default=12.0,
        ge=0,
        description="a candidate is a product shot when its outer 4% varies by at most this many grey "
        "levels (per channel std) and an object stands on it",
    )
    object_share: tuple[float, float] = Field(
        default=(0.05, 0.95),
        description="share of a product shot's pixels (min, max) that must differ from the border colour "
        "(a close-up of plain fabric is flat everywhere)",
    )
    object_colour_distance: float = Field(
        default=40.0,
        ge=0,
        description="a pixel belongs to the object when its RGB values differ from the border colour by "
        "more than this in all (sum of absolute differences)",
    )

    min_class_score: float | None = Field(
        default=0.6,
        ge=0,
        le=1,
        description="a carousel pick whose matcher score on the video's detections of the item's class "
        "(every detection when the video has none of it, or without a class) is below this goes to "
        "needs_review: the colour fit alone does not publish a look-alike the garment does not match, "
        "nor does the only product shot among close-ups win by default. Chosen on tuning worlds "
        "(seeds 4401-4403, 59 carousels: right picks scored 0.686-1.0 on their class, wrong ones "
        "0.30-0.48); None = rule off",
    )
    matcher_lead: float | None = Field(
        default=0.1,
        ge=0,
        le=1,
        description="a carousel pick that another product shot beats by more than this on the same "
        "matcher score (the colour fit overruled the matcher) goes to needs_review. Chosen on the same "
        "tuning worlds (a wrong pick 0.12 behind, no right pick more than 0.1 behind); None = rule off",
    )

    @field_validator("object_share")
    @classmethod
    def _share_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 1:
            raise ValueError("object_share must be (min, max) with 0 <= min <= max <= 1")
        return v


#: the steps of `mf clean`, in order
DEFAULT_STEPS = (
    "probe",
    "video_duplicates",
    "split_screen",
    "taxonomy",
    "shop_images",
    "record",
    "associations",
)


class CleaningConfig(_Model):
    """Everything `mf clean` reads. Defaults are documented per field; override with ``--config``."""

    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    splitscreen: SplitScreenConfig = Field(default_factory=SplitScreenConfig)
    taxonomy_rules: str | None = Field(
        default=None, description="path of a taxonomy rules YAML (None = the packaged one)"
    )
    association_check: bool = Field(
        default=True,
        description="score every (video, shop image) pair with the matcher (the embedded one unless "
        "`mf clean --matcher`) and pick carousel shop images by it; False (`mf clean "
        "--no-association`) skips both (carousel picks then go by colour)",
    )
    match_threshold: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="video/shop pairs scoring below this go to needs_review (so does a carousel whose "
        "best product shot scores below it). Calibrated on unseen worlds with planted wrong pairs "
        "(benchmarks/calibrate_association.py): with the embedded matcher right pairs scored "
        "0.82-1.0 and the wrong pairs it can tell 0.0-0.59; wrong pairs scoring like right ones "
        "are left to the contested-shop rule",
    )
    match_by_class: bool = Field(
        default=True,
        description="rank carousel candidates and decide a contested product shot (rule 2) on the "
        "video's detections of the item's DeepFashion2 class (from the taxonomy step, which runs "
        "first; every detection when the video has none of it): the matcher alone can score another "
        "garment of the video, e.g. the trousers under a wrongly paired top, as high as the item. "
        "The low-score rules keep every detection (a frame's misclassified box of the item then "
        "still counts). False: every detection everywhere",
    )
    contest_margin: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="items sharing one product shot (cleaning.associations, rule 2): those whose video "
        "scores more than this below the keeper's go to needs_review (retakes of one product share "
        "its shop image file and score alike)",
    )
    contest_still_tolerance: float = Field(
        default=9.0,
        ge=0,
        description="a split-screen still and a product shot with equal object hashes are one shot "
        "(rule 2) only when their objects differ by at most this many grey levels "
        "(cleaning.associations.object_difference): re-encoding a still costs 5-8, the stills of "
        "confusable twins lie 4-34 from the twin's picture (demo world, seed 0: 4.3, 6.0, 12.9, "
        "18.7, 33.5); shop images and carousel picks stay at contest_copy_tolerance",
    )
    contest_copy_tolerance: float = Field(
        default=2.0,
        ge=0,
        description="two product shots (shop images, carousel picks) with equal object hashes are one "
        "shot (rule 2) only when their objects differ by at most this many grey levels "
        "(cleaning.associations.object_difference; confusable twins' pictures lie 3-5 apart)",
    )
    contest_object_bits: int = Field(
        default=8,
        ge=0,
        le=64,
        description="two product shots can be one shot (rule 2) only when the 64-bit pHashes of their "
        "objects (cleaning.associations.object_signature) differ in at most this many bits",
    )
    contest_colour_tolerance: float = Field(
        default=6.0,
        ge=0,
        le=255,
        description="... and their objects' 4x4 colour thumbnails differ by at most this mean absolute "
        "level (cleaning.associations.same_object)",
    )
    contest_derived_lead: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="an image cleaning derived (a carousel pick, a split-screen still) keeps a "
        "contested product shot before the source's own shop image only when its video matches it "
        "better by more than this (a source's shop image can be the wrong one too)",
    )
    contest_coverage_lead: float | None = Field(
        default=0.5,
        ge=0,
        le=1,
        description="colour evidence in a contested product shot (rule 2): a derived image (a carousel "
        "pick, a split-screen still) keeps it before the source's own shop image when its video shows "
        "more of the picture's main colours (cleaning.shop_pick.colour_coverage, 0-1, the carousel "
        "pick's colour measure) than the other video by more than this, and the collected items "
        "trailing it by as much go to needs_review: a product page served another item's picture "
        "whose garment the matcher scores like its own (same class, other colours). Right pairs can "
        "show as little as 0.04 of their picture's colours (a garment lit warmer than its product "
        "shot), so the lead is large; None = colour not used",
    )
    fabric_colour_distance: float | None = Field(
        default=160.0,
        ge=0,
        le=765,
        description="rule 3 of the association check (cleaning.associations): an item with a fabric "
        "close-up of its own garment (Net-A-Porter's fabric view; items without one are not checked) "
        "goes to needs_review when the mean RGB colour of its shop image's object (the pixels far from "
        "the border colour) lies more than this L1 distance (0-765) from the fabric image's mean "
        "colour, and does not keep a contested product shot another item can keep. Catches a "
        "same-class look-alike of another colour, which the matcher scores like the right garment. "
        "Chosen on 5 synthetic worlds: right pairs up to 155, 19 of 25 planted wrong shop images "
        "above 160 (docs/known_limits.md has the held-out figures); None = rule off",
    )
    rear_colour_distance: float | None = Field(
        default=50.0,
        ge=0,
        le=765,
        description="rule 4 of the association check (cleaning.associations): an item with a rear "
        "product shot of its own garment (Net-A-Porter's rear view; items without one are not checked) "
        "goes to needs_review when the mean RGB colours of the objects of its shop image and of its "
        "rear shot (the pixels far from each border colour) lie more than this L1 distance (0-765) "
        "apart, and does not keep a contested product shot another item can keep (a carousel pick "
        "showing the garment wins over a source's shop image its own rear shot contradicts). Chosen "
        "on synthetic worlds (seeds 0 and 4242421), where a right pair's two shots lie at most 5.2 "
        "apart (one texture, front and back), with room for real photographs; None = rule off",
    )
    association_class_claim: bool = Field(
        default=False,
        description="rule 5 of the association check (cleaning.associations._class_claims): an item "
        "scoring match_threshold on every detection but not on its own DeepFashion2 class (its video "
        "has detections of that class, none matching) goes to needs_review when another item's video "
        "of the same class (another video, another shop image) scores its shop image at least "
        "match_threshold on that class and more than contest_margin above it: the picture shows a "
        "garment the catalog holds and the video's garment of that class is not it (the matcher "
        "alone scores another garment of the video, e.g. trousers under a wrongly paired top, as "
        "high). Needs match_by_class. Off by default: it fired on none of six held-out worlds and made "
        "2 false flags (split-screen stills, shop-recovered.png) on the demo's world, catching "
        "nothing there (docs/known_limits.md); True = rule on",
    )
    pick_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="when the best two product-shot candidates of a carousel score "
        "closer than this, the item goes to needs_review",
    )
    shop_pick: ShopPickConfig = Field(
        default_factory=ShopPickConfig,
        description="how carousel candidates are told apart (product shot or not) and the video sampled",
    )
    split_seed: int = Field(default=0, description="seed of the stable train/test split")
    test_fraction: float = Field(default=0.1, gt=0, lt=1, description="share of products in the test split")
    steps: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STEPS),
        description="cleaning steps `mf clean` runs, in this order (names of "
        "cleaning.steps.registry.STEPS, which checks the list); leave one out to skip it "
        "(record needs probe and taxonomy earlier)",
    )
    checkpoint_s: float = Field(
        default=30.0,
        ge=0,
        description="seconds between saves of the result cache while a run goes on (a killed run "
        "resumes from the last save)",
    )
    executor: str = Field(
        default="local",
        description="how per-file work (probe, frame hashes, split-screen, shop pick, association "
        "scores) is spread: local = in this process, ray = over a Ray cluster (movingfashion.executors)",
    )
    dataset: DatasetInfo = Field(
        default_factory=DatasetInfo,
        description="what `mf publish` says about the dataset (name, licence, url, creators, version, "
        "date_published, citation): Croissant metadata and the dataset card",
    )

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, name: str) -> str:
        from movingfashion.executors import known_executor

        return known_executor(name)
