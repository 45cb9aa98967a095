"""Configuration of the tracklet builder (pydantic, documented defaults, YAML-overridable)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from annotations.tracking import TrackerConfig
from movingfashion.media.readers import backend_names
from movingfashion.models.detectors.base import DetectorConfig


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


class BuildConfig(BaseModel):
    """Everything ``mf-tracklets build`` can tune."""

    model_config = ConfigDict(extra="forbid")

    stride: int = Field(1, ge=1, description="detect every k-th frame")
    keyframes: bool = Field(False, description="detect on the codec's key frames only (DPRNet-style)")
    embed_source: Literal["crops", "roi"] = Field(
        "crops",
        description="embed detections from resized crops (any backend) or from the backend's RoI"
        " features (fasterrcnn only; the matcher must be trained on them)",
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
