"""Configuration of the tracklet builder (pydantic, documented defaults, YAML-overridable)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from annotations.flags import SIGNALS, FlagRule, flag_reason
from movingfashion.media.readers import backend_names
from movingfashion.models.detectors.base import DetectorConfig

#: The calibrated flag rules shipped with the embedded weights, fitted by
#: ``python -m movingfashion.world.flag_fit fit`` (stride 2, defaults: max flag rate 0.14, each rule
#: catching >= 2 more failing videos, ranked by caught / (false + 5)) on six default-preset worlds,
#: seeds 5101 (60, full), 5102 (60), 5103 (40), 5104 (80), 5107 (70), 5108 (60 products; quick):
#: 289 videos, 23 failing the >= 50% check; fit recall 0.74 at flag rate 0.121, leave-one-world-out
#: 0.35 at 0.090. The detector's least sure detections (20th percentile of its confidence) and a
#: box that jumps between consecutive detections (low mean IoU of consecutive boxes) are what the
#: failures share most. Figures on unseen worlds in movingfashion/models/weights/README.json.
FITTED_RULES: list[FlagRule] = [
    FlagRule(signal="det_p20", op="lt", threshold=0.1279),
    FlagRule(signal="step_iou", op="lt", threshold=0.6472),
]


class TrackerConfig(BaseModel):
    """Tracking thresholds (documented defaults, overridable by YAML)."""

    model_config = ConfigDict(extra="forbid")

    match_threshold: float = Field(
        0.5, ge=0, le=1, description="min match score with the pivot for a detection to join"
    )
    shop_threshold: float = Field(
        0.3, ge=0, le=1, description="training tracking: min shop match score of the pivot"
    )
    class_bonus: float = Field(
        0.1,
        ge=0,
        le=1,
        description="training tracking: added to the score of detections whose"
        " detector class is the product's DeepFashion2 class, when ranking"
        " pivot candidates (shop score) and the detection kept per frame"
        " (match score); thresholds still apply to the raw scores"
        " (0 = the paper's rule)",
    )
    pivot_min_score: float = Field(
        0.0,
        ge=0,
        le=1,
        description="training tracking: only detections with at least this detector confidence may be"
        " the pivot, when any that passes shop_threshold has it (0 = the paper's rule: any"
        " detection); 0.3 was tried on the flag fitting worlds (33 failing videos instead of 36) but"
        " was neutral on unseen ones (12 and 12) and failed a video of another, so it is off",
    )
    min_length: int = Field(1, ge=1, description="inference tracklets shorter than this are dropped")
    max_gap: int | None = Field(
        None,
        ge=0,
        description="fill a tracklet's frames between detections at most this far apart"
        " by linear interpolation, in both modes (None = 2 x stride; 0 ="
        " never); filled frames get a box but no scores",
    )


class ReviewConfig(BaseModel):
    """When a video's ground-truth tracklet is too noisy to trust without a human look."""

    model_config = ConfigDict(extra="forbid")

    min_frames: int = Field(3, ge=1, description="fewer detected frames in the GT tracklet -> needs_review")
    min_coverage: float = Field(
        0.3,
        ge=0,
        le=1,
        description="GT tracklet detected on less than this fraction of the detected frames -> needs_review",
    )
    min_shop_score: float = Field(
        0.5, ge=0, le=1, description="pivot's shop match score below this -> needs_review"
    )
    rules: list[FlagRule] = Field(
        default_factory=lambda: [r.model_copy() for r in FITTED_RULES],
        description="calibrated flags: a video whose ground-truth tracklet's confidence signals"
        " (annotations.flags.SIGNALS) cross any of these thresholds -> needs_review; the defaults are"
        " fitted on synthetic worlds by movingfashion.world.flag_fit (see the weights card); [] = off",
    )

    @field_validator("rules")
    @classmethod
    def _known_signals(cls, v: list[FlagRule]) -> list[FlagRule]:
        for r in v:
            if r.signal not in SIGNALS:
                raise ValueError(f"unknown signal {r.signal!r}; use one of {', '.join(SIGNALS)}")
        return v

    def reason(self, signals: dict[str, float]) -> str | None:
        """Why a video whose ground-truth tracklet has these signals needs review, or None."""
        n, cov = signals["members"], signals["coverage_detected"]
        if n < self.min_frames or cov < self.min_coverage:
            return f"too few frames in the tracklet ({n:.0f} detections, {cov:.0%} of the frames with detections)"
        if signals["pivot_shop"] < self.min_shop_score:
            return f"low shop score {signals['pivot_shop']:.2f}"
        return flag_reason(signals, self.rules)


class BuildConfig(BaseModel):
    """Everything ``mf-tracklets build`` can tune."""

    model_config = ConfigDict(extra="forbid")

    stride: int = Field(1, ge=1, description="detect every k-th frame")
    keyframes: bool = Field(False, description="detect on the codec's key frames only (DPRNet-style)")
    detect_last: bool = Field(
        True,
        description="also detect on the video's first and last frame, which a stride (or the key frames)"
        " may never reach, so the tracklet covers the whole video",
    )
    extend_ends: bool = Field(
        True,
        description="hold a tracklet's first/last box out to the video's first/last frame when they"
        " are at most max_gap frames away (the detector missed the garment there)",
    )
    embed_source: Literal["crops", "roi", "auto"] = Field(
        "crops",
        description="how detections are matched (movingfashion.models.matchers): crops = each detection"
        " cut out and embedded by the crop matcher (the default); roi = descriptors pooled with RoIAlign"
        " from the detector's own feature maps by a small head trained on that detector (roi_matcher.pt,"
        " matching at 2-3% of detection instead of 25-40%; its tracklets end early on a few more videos,"
        " see the README); auto = roi when the RoI matcher fits the detector (the embedded one: the"
        " embedded detector), else crops",
    )
    embed_size: int | None = Field(
        None,
        ge=16,
        multiple_of=16,
        description="side in pixels of the crops the matcher embeds (detections and the shop image);"
        " None = the size the matcher was trained at (64 for the embedded one). 32 costs about 2.5x"
        " less embedding work; its tracklet quality on the worlds is in the README",
    )
    decimals: int = Field(1, ge=0, le=4, description="box coordinates are rounded to this many decimals")
    video_backend: str = Field(
        "auto",
        description="video decoder from the reader registry: auto (torchcodec, then PyAV, decord, OpenCV)"
        " or one of them by name",
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    executor: str = Field(
        "local",
        description="how videos are spread: local (this process) or ray (a Ray cluster, one detector and "
        "matcher per worker; movingfashion.executors)",
    )

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, v: str) -> str:
        from movingfashion.executors import EXECUTORS

        if v not in EXECUTORS:
            raise ValueError(f"unknown executor {v!r}; use one of {', '.join(EXECUTORS)}")
        return v

    @field_validator("video_backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if v not in backend_names():
            raise ValueError(f"unknown video backend {v!r}; use one of {', '.join(backend_names())}")
        return v
