"""Contracts for what collectors gather: source items and their media assets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.geometry import Box
from schemas.official import FrameCount
from schemas.taxonomy import NUM_CLASSES, Partition
from schemas.text_input import clean_strings


class SourceName(StrEnum):
    NETAPORTER = "netaporter"
    TIKTOK = "tiktok"
    INSTAGRAM = "instagram"
    URLS = "urls"
    LOCAL = "local"


#: Partition each source feeds: Net-A-Porter is Regular, social media is Hard.
SOURCE_PARTITION: dict[SourceName, Partition] = {
    SourceName.NETAPORTER: Partition.REGULAR,
    SourceName.TIKTOK: Partition.HARD,
    SourceName.INSTAGRAM: Partition.HARD,
    SourceName.URLS: Partition.HARD,
    SourceName.LOCAL: Partition.HARD,
}
#: metadata keys a ``local`` item's manifest row sets (``mf-collect local``): its partition and
#: its DeepFashion2 class, which cleaning takes as given
GIVEN_PARTITION, GIVEN_CLASS = "partition", "df2_class"


def item_partition(item: SourceItem) -> Partition:
    """The item's partition: the one its manifest row gave (``local`` items), else its source's."""
    given = item.metadata.get(GIVEN_PARTITION) if item.source == SourceName.LOCAL else None
    if given in tuple(Partition):
        return Partition(given)
    return SOURCE_PARTITION.get(item.source, Partition.HARD)


def given_class(item: SourceItem) -> int | None:
    """The DeepFashion2 class the item's manifest row gave (``local`` items), else None."""
    given = item.metadata.get(GIVEN_CLASS) if item.source == SourceName.LOCAL else None
    return (
        given
        if isinstance(given, int) and not isinstance(given, bool) and 1 <= given <= NUM_CLASSES
        else None
    )


class AssetKind(StrEnum):
    VIDEO = "video"
    SHOP = "shop"
    FRONT = "front"
    REAR = "rear"
    FABRIC = "fabric"
    CANDIDATE_SHOP = "candidate-shop"


#: url prefixes of the shop images cleaning derives (a split-screen video's half, a carousel pick)
#: and review chooses (a carousel candidate): the asset's ``url`` is the prefix + the file's path
SPLITSCREEN_URL = "splitscreen:"
CANDIDATE_URL = "candidate:"
DERIVED_URLS = (SPLITSCREEN_URL, CANDIDATE_URL)


#: reason prefix of an item a recheck found gone at its source (``gone: http_404``): rejected,
#: and a published product of it keeps its id on a surviving re-post (cleaning.publish)
GONE_PREFIX = "gone: "

#: reason prefixes of an item cleaning rejected because its video file is damaged (corrupt, or
#: cut short: on the disk after its download, or as the source served it; ``cleaning.steps.probe``
#: names the file): unlike cleaning's other rejections, ``mf-collect --retry-rejected`` downloads
#: it again, and the next ``mf clean`` checks the new file
DAMAGED_VIDEO_PREFIXES = ("probe: no valid video (corrupt", "probe: no valid video (truncated")
#: reason prefix of an item cleaning rejected because its collected shop image does not decode (a
#: truncated or corrupt file, ``cleaning.steps.probe`` names it): retried as a damaged video is
DAMAGED_SHOP = "probe: damaged shop image"
DAMAGED_SHOP_PREFIXES = (f"{DAMAGED_SHOP} (corrupt",)
#: every reason ``mf-collect --retry-rejected`` downloads an item cleaning rejected again for
DAMAGED_MEDIA_PREFIXES = DAMAGED_VIDEO_PREFIXES + DAMAGED_SHOP_PREFIXES
#: reason prefixes of the damaged file itself (the asset row ``cleaning.steps.probe`` rejected:
#: ``probe: corrupt: ...``, ``probe: truncated: ...``), the file an item's damaged-media reason names
DAMAGED_FILE_PREFIXES = ("probe: corrupt", "probe: truncated")

#: reason prefix of publish's hold of an item whose shared shop image disagrees with its colour
#: (:func:`cleaning.publish.hold_shop_conflicts`): publish releases it itself once the conflict is
#: gone, so a rerun of cleaning that flags the item for a reason of its own replaces it (see
#: ``cleaning.steps.record``), and review keeps it until an accept made under it
#: (:mod:`schemas.review`)
MERGE_PREFIX = "merge:"

#: reason prefix of the tracklet builder's flag of a product's video
#: (:func:`annotations.review.marks.mark_needs_review`): ``tracklets: <video stem>: <why>``, every
#: flagged video of the product still to review so, separated by ``; ``
#: (:func:`schemas.holds.held_reason`); only accepts of every flagged video lift it in review
#: (:mod:`schemas.review`)
TRACKLETS_PREFIX = "tracklets:"

#: reason prefix of an item a collector gave up, ``gave_up:<last reason>`` (status ``rejected``):
#: it failed for a reason that looks permanent in ``max_failed_runs`` runs since its last
#: success; reruns skip it until ``--retry-given-up``
GAVE_UP_PREFIX = "gave_up:"
#: why items are given up, and what the summaries (``mf-collect``, ``mf catalog status``) and
#: problem lines say to do about them
GIVEN_UP_WHY = "failed for a reason that looks permanent in max_failed_runs runs; reruns skip them"
RETRY_GIVEN_UP = "--retry-given-up tries them again"


class Status(StrEnum):
    """Life cycle of an item or asset in the catalog."""

    DISCOVERED = "discovered"
    DOWNLOADED = "downloaded"
    FAILED = "failed"  # + reason; retried by a rerun
    REJECTED = "rejected"  # + reason; final (bad media, non-clothing, ...)
    DUPLICATE = "duplicate"  # + duplicate_of
    NEEDS_REVIEW = "needs_review"  # + reason
    ACCEPTED = "accepted"


def given_up(status: str | None, reason: str | None) -> bool:
    """Whether an item's state says a collector gave it up (``rejected gave_up:<reason>``; the
    catalog counts them by the same rule, :meth:`schemas.catalog.Catalog.given_up_counts`)."""
    return status == Status.REJECTED and (reason or "").startswith(GAVE_UP_PREFIX)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceItem(_Model):
    """One thing found at a source: a product page, a TikTok video, an Instagram post."""

    source: SourceName
    source_id: str = Field(min_length=1, max_length=128)
    url: str | None = None
    title: str | None = None
    description: str | None = None
    category_path: list[str] = Field(default_factory=list)
    caption: str | None = None
    hashtags: list[str] = Field(default_factory=list)
    designer: str | None = None
    colour: str | None = None
    has_video: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description="raw source metadata")

    @field_validator("source_id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        from schemas.naming import check_safe_name

        return check_safe_name(v, what="source_id")

    @field_validator(
        "title",
        "description",
        "caption",
        "designer",
        "colour",
        "category_path",
        "hashtags",
        "metadata",
        mode="before",
    )
    @classmethod
    def _clean_text(cls, v: Any) -> Any:
        """Source text made storable: a lone UTF-16 surrogate (a title cut inside an emoji)
        becomes U+FFFD, in nested metadata too (:func:`~schemas.text_input.clean_strings`)."""
        return clean_strings(v)


class VideoProbe(_Model):
    """What the collectors' probe read of a downloaded video (:func:`collectors.checks.probe_video`)."""

    frames: FrameCount
    fps: float = Field(ge=0)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    duration_s: float = Field(ge=0)
    codec: str | None = None
    pix_fmt: str | None = Field(default=None, description="decoded pixel format, e.g. yuv420p or yuv420p10le")


class ImageProbe(_Model):
    width: int = Field(ge=0)
    height: int = Field(ge=0)


class Crop(_Model):
    """A region of a video to keep (split-screen recovery writes crop metadata)."""

    box: Box


class MediaAsset(_Model):
    """One file belonging to a source item."""

    source: SourceName
    source_id: str
    kind: AssetKind
    url: str | None = None
    path: str | None = Field(default=None, description="path relative to the collection root")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, ge=0)
    content_type: str | None = None
    probe: VideoProbe | ImageProbe | None = None
    crop: Crop | None = None
    status: Status = Status.DISCOVERED
    reason: str | None = None
    duplicate_of: str | None = None
    updated_at: datetime | None = None
