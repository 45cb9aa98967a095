"""Ground truth of the synthetic MovingFashion world (written by ``mf world generate``).

The world folder holds ``world.json`` (a :class:`WorldTruth`), the media it describes and one
``gt/<video_id>.json`` per video (a :class:`VideoGroundTruth`). Tests of every stage compare
their results with this truth. All paths are relative to the world folder.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from schemas.atomic import atomic_write_text
from schemas.geometry import Box
from schemas.items import SourceName
from schemas.paths import resolve_under
from schemas.taxonomy import Partition


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Optional(_Model):
    """A model whose ``_omit_none`` fields are left out of its JSON while they are None, so that
    files of worlds made without the knobs that set them stay byte-identical."""

    _omit_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for key in self._omit_none:
            if data.get(key, 0) is None:
                del data[key]
        return data


class DuplicateKind(StrEnum):
    EXACT = "exact"  # byte-identical copy
    REENCODE = "reencode"  # other codec/bitrate/size/crop/brightness, same frames
    SUBCLIP = "subclip"  # a contiguous part of another video


class RepostVariant(StrEnum):
    """How a re-post differs from its source, the way re-uploads on TikTok and Instagram do."""

    CROP = "crop"  # a few per cent cut off each side (asymmetric)
    ZOOM_CROP = "zoom_crop"  # a central window of 65-80% scaled back up to the source size
    LETTERBOX = "letterbox"  # padded with bars above and below (a taller canvas)
    PILLARBOX = "pillarbox"  # padded with bars left and right (a wider canvas)
    MIRROR = "mirror"  # flipped left-right
    RESCALE = "rescale"  # resized (down or up), harder compression
    GRADE = "grade"  # brightness, contrast, saturation and hue changed
    CAPTION = "caption"  # a caption band and a watermark drawn over the picture
    SPEED = "speed"  # played faster or slower (frames dropped or repeated)
    ROTATE_90 = (
        "rotate_90"  # re-encoded turned 90 degrees clockwise (a phone clip's rotation baked in or lost)
    )
    ROTATE_180 = "rotate_180"  # re-encoded upside down
    ROTATE_270 = "rotate_270"  # re-encoded turned 270 degrees clockwise (90 counter-clockwise)
    MIRROR_ROTATE_90 = "mirror_rotate_90"  # flipped left-right, then turned 90 degrees clockwise
    MIRROR_ROTATE_180 = "mirror_rotate_180"  # flipped left-right, then turned 180 degrees: upside down
    MIRROR_ROTATE_270 = "mirror_rotate_270"  # flipped left-right, then turned 270 degrees clockwise
    FRAME_RATE = "frame_rate"  # re-encoded at another frame rate (24, 25 or 60 fps), same duration
    PILLARBOX_WIDE = "pillarbox_wide"  # the clip in a 16:9 frame (a 9:16 one: 2/3 barred), often off centre
    TRIM = "trim"  # a part of 25-45% of the clip, trimmed at both ends and re-encoded (a sub-clip)
    CROP_FILL = (
        "crop_fill"  # zoomed in to fill a frame of another aspect (1:1, 4:5, 9:16...): two borders cut
    )
    BLUR_FILL = "blur_fill"  # fitted into a frame of another aspect over a blurred, enlarged copy of itself
    ONE_BAR = "one_bar"  # at the top or bottom of a tall frame, one bar (often captioned) taking 42-60% of it


#: the variants ``WorldConfig.rotated_reposts`` plants
ROTATED_VARIANTS = (RepostVariant.ROTATE_90, RepostVariant.ROTATE_180, RepostVariant.ROTATE_270)
#: the variants ``WorldConfig.mirrored_rotated_reposts`` plants
MIRRORED_ROTATED_VARIANTS = (
    RepostVariant.MIRROR_ROTATE_90,
    RepostVariant.MIRROR_ROTATE_180,
    RepostVariant.MIRROR_ROTATE_270,
)
#: the variants ``WorldConfig.reframed_reposts`` plants
REFRAMED_VARIANTS = (RepostVariant.FRAME_RATE, RepostVariant.PILLARBOX_WIDE, RepostVariant.TRIM)
#: the variants ``WorldConfig.filled_reposts`` plants
FILLED_VARIANTS = (RepostVariant.CROP_FILL, RepostVariant.BLUR_FILL)
#: the variants ``WorldConfig.one_bar_reposts`` plants
ONE_BAR_VARIANTS = (RepostVariant.ONE_BAR,)
#: the variants ``WorldConfig.repost_variants`` plants (worlds made before the later kinds keep their bytes)
COPY_VARIANTS = tuple(
    v
    for v in RepostVariant
    if v
    not in (
        *ROTATED_VARIANTS,
        *MIRRORED_ROTATED_VARIANTS,
        *REFRAMED_VARIANTS,
        *FILLED_VARIANTS,
        *ONE_BAR_VARIANTS,
    )
)


class SplitScreen(_Model):
    """A video whose one half is a still picture of the shop item."""

    layout: str = Field(description="'left-right' or 'top-bottom'")
    still_half: str = Field(description="'left', 'right', 'top' or 'bottom'")
    still_box: Box = Field(description="region of the still half, full-frame pixels")
    moving_box: Box = Field(description="region of the street video half, full-frame pixels")
    still_image: str = Field(description="the still half as a PNG file (what recovery must find)")


class WorldProduct(_Model):
    product_id: str
    source: SourceName
    partition: Partition
    df2_class: int | None = Field(description="None for non-clothing products")
    kind: str = Field(description="'clothing' or the non-clothing type: bag, shoes, jewellery, ...")
    confusable_group: int | None = None
    title: str
    description: str
    category_path: list[str] = Field(default_factory=list)
    caption: str | None = None
    hashtags: list[str] = Field(default_factory=list)
    designer: str | None = None
    colour: str | None = None
    images: dict[str, str] = Field(
        default_factory=dict, description="view -> path: shop, front, rear, fabric, candidate-N"
    )
    videos: list[str] = Field(default_factory=list, description="video ids of this product")
    wrong_shop: bool = Field(default=False, description="the shop image served belongs to another product")
    wrong_shop_of: str | None = Field(default=None, description="whose shop image was served instead")
    wrong_shop_kind: str | None = Field(
        default=None,
        description="how the wrong pair was planted: 'shop' (the served shop image), 'carousel' (the "
        "carousel's product shots are other items'), 'split_screen' (the still half shows another item)",
    )


class WorldVideo(_Optional):
    _omit_none: ClassVar[tuple[str, ...]] = ("noisy_frames",)

    video_id: str
    product_id: str
    source: SourceName
    partition: Partition
    path: str
    sha256: str
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    duplicate_of: str | None = None
    duplicate_kind: DuplicateKind | None = None
    subclip_start: int | None = Field(default=None, description="first frame of the original in this subclip")
    variant: RepostVariant | None = Field(
        default=None, description="how this re-post differs from its source (set with duplicate_of)"
    )
    variant_detail: str | None = Field(
        default=None, description="the variant's parameters, e.g. 'speed 1.25'"
    )
    retake_of: str | None = Field(
        default=None,
        description="another clip of the same garment and wearer (a hard negative: NOT a duplicate of it)",
    )
    split_screen: SplitScreen | None = None
    gt: str = Field(description="path of the per-frame ground truth JSON")
    noisy_frames: int | None = Field(
        default=None,
        description="frames whose tracker box or pixels are corrupted (noise knobs on; per frame in the "
        "gt file)",
    )


class GarmentInFrame(_Model):
    """One garment visible (or not) in one frame."""

    product_id: str = Field(description="the product id, or 'other-<n>' for garments of other products")
    df2_class: int
    box: Box | None = Field(description="None when the garment is out of view")
    visible: float = Field(ge=0, le=1, description="visible fraction of the garment")
    person: int = 0


class VideoGroundTruth(_Optional):
    _omit_none: ClassVar[tuple[str, ...]] = ("tracked", "confidence", "noise")

    video_id: str
    product_id: str
    frames: list[list[GarmentInFrame]] = Field(description="per frame, every garment")
    tracked: list[Box | None] | None = Field(
        default=None,
        description="noise knobs on: per frame, the box a tracker following the item gives (None: none)",
    )
    confidence: list[float | None] | None = Field(
        default=None, description="noise knobs on: per frame, the detector confidence of the tracked box"
    )
    noise: list[str | None] | None = Field(
        default=None,
        description="noise knobs on: per frame, how the tracked box or the frame's pixels are corrupted "
        "(a NoiseConfig kind; also where the tracker has no box), None where the pixels are clean and "
        "the box, if any, is the item's true box",
    )

    def tracked_boxes(self) -> dict[int, list[float]]:
        """Frame index -> the tracker's box (only worlds made with the noise knobs; else {})."""
        return {t: list(b) for t, b in enumerate(self.tracked or []) if b is not None}

    def frame_noise(self) -> dict[int, str]:
        """Frame index -> corruption kind, for the corrupted frames only (a frame without a tracked
        box is listed when its pixels are corrupted: blur, occlusion)."""
        return {t: k for t, k in enumerate(self.noise or []) if k is not None}

    def item_boxes(self) -> dict[int, list[float]]:
        """Frame index -> box of the product's own garment, where it is visible."""
        out = {}
        for t, garments in enumerate(self.frames):
            for g in garments:
                if g.product_id == self.product_id and g.box is not None and g.visible > 0:
                    out[t] = g.box
        return out


class WorldTruth(_Model):
    seed: int
    products: list[WorldProduct]
    videos: list[WorldVideo]
    df2_root: str | None = Field(default=None, description="DeepFashion2-format mini set folder")
    generator_version: str = "1"

    def product(self, product_id: str) -> WorldProduct:
        for p in self.products:
            if p.product_id == product_id:
                return p
        raise KeyError(product_id)

    def video(self, video_id: str) -> WorldVideo:
        for v in self.videos:
            if v.video_id == video_id:
                return v
        raise KeyError(video_id)


def world_folder(path: str | os.PathLike[str]) -> Path:
    """The world folder named by ``path``: the folder itself, or the folder of its ``world.json``;
    :class:`DataFormatError` naming ``path`` when it is another file (its folder is not the world)."""
    p = Path(path)
    if p.is_dir():
        return p
    if p.name != "world.json":
        from schemas.errors import DataFormatError

        raise DataFormatError(
            "not a world folder nor its world.json",
            where=str(p),
            hint="pass the folder written by `mf world generate --out DIR`, or the world.json in it",
        )
    return p.parent


def load_world(world_dir: str | os.PathLike[str]) -> WorldTruth:
    """The truth of the world in ``world_dir``; :class:`DataFormatError` naming its ``world.json``
    when the file is missing or does not parse."""
    from schemas.errors import DataFormatError
    from schemas.text_input import read_text_input

    path = Path(world_dir, "world.json")
    hint = "pass a folder written by `mf world generate --out DIR` (generate it again if it was cut short)"
    if not path.is_file():  # missing, or a folder of that name
        raise DataFormatError("no world.json: not a world folder", where=str(path), hint=hint)
    text = read_text_input(path, "world.json", hint=hint, limit=None)  # not UTF-8: says so, with the byte
    return _validated(WorldTruth.model_validate_json, text, "world.json", path, hint)


def save_world(world_dir: str | os.PathLike[str], truth: WorldTruth) -> None:
    atomic_write_text(Path(world_dir, "world.json"), truth.model_dump_json(indent=1) + "\n")


def load_video_gt(world_dir: str | os.PathLike[str], video: WorldVideo) -> VideoGroundTruth:
    """The per-frame truth of ``video`` (its ``gt/`` file); :class:`DataFormatError` naming the
    file when it is missing, not UTF-8 JSON, or not a video's ground truth."""
    from schemas.text_input import load_json, read_text_input

    path = resolve_under(world_dir, video.gt, what="gt", where="world.json", root_label="the world folder")
    hint = "generate the world again (`mf world generate --out DIR`, same options)"
    data = load_json(read_text_input(path, "ground-truth file", hint=hint), str(path), hint=hint)
    return _validated(VideoGroundTruth.model_validate, data, "ground-truth file", path, hint)


def _validated(validate: Any, data: Any, what: str, path: Path, hint: str) -> Any:
    """``validate(data)``; a pydantic error becomes a :class:`DataFormatError` naming ``path``,
    the first field at fault and what is wrong with it (and how many more problems there are)."""
    from pydantic import ValidationError

    from schemas.errors import DataFormatError, validation_text

    try:
        return validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = ".".join(str(part) for part in first["loc"])
        problem = f"field '{loc}': {validation_text(first)}" if loc else validation_text(first)
        more = f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
        raise DataFormatError(f"{what} does not parse: {problem}{more}", where=str(path), hint=hint) from None
