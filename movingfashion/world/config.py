"""Settings of the synthetic world, with documented defaults (override with ``load_config``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.errors import ConfigError, validation_text

#: Bumped whenever the renderer changes what a seed produces (cached worlds are then rebuilt).
#: 5: the smallest worlds (20-22 products) plant every case; noise truth is recorded on frames
#: whose pixels were corrupted while the item was out of view (videos of other worlds unchanged).
GENERATOR_VERSION = "5"


#: How a stretch of frames of a clip can be corrupted for the tracker (see ``movingfashion.world.noise``).
NOISE_KINDS = ("other_garment", "lookalike", "occlusion", "blur", "out_of_frame")


class NoiseConfig(BaseModel):
    """Tracklet noise as in real footage (off by default: ``frames`` 0 leaves the world unchanged).

    A share ``frames`` of each clothing clip's frames is cut into stretches of ``burst`` frames;
    in each stretch one thing goes wrong for the tracker: its box lands on another garment or
    person (``other_garment``), on a look-alike garment worn by a passer-by (``lookalike``: a
    person in a near-twin of the item walks through the whole clip), the item is mostly hidden
    by something in front of it (``occlusion``), the frames are motion-blurred (``blur``), or the
    camera swings away while the tracker's box stays put (``out_of_frame``). The world records,
    per frame, the tracker's box, its confidence and the kind of corruption (None = clean).
    """

    model_config = ConfigDict(extra="forbid")

    frames: float = Field(0.0, ge=0, le=0.8, description="share of each clip's frames corrupted (0 = off)")
    kinds: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: dict.fromkeys(NOISE_KINDS, 1.0),
        description="relative weight (>= 0) of each corruption kind: " + ", ".join(NOISE_KINDS),
    )
    burst: tuple[int, int] = Field((3, 8), description="frames per corrupted stretch (min, max)")

    @model_validator(mode="after")
    def _check(self) -> NoiseConfig:
        bad = sorted(set(self.kinds) - set(NOISE_KINDS))
        if bad:
            raise ValueError(f"unknown noise kind(s) {bad}; known: {', '.join(NOISE_KINDS)}")
        if self.frames > 0 and not any(w > 0 for w in self.kinds.values()):
            raise ValueError("noise.frames > 0 needs at least one kind with a positive weight")
        if not 1 <= self.burst[0] <= self.burst[1]:
            raise ValueError(f"noise.burst must be 1 <= min <= max, got {self.burst}")
        return self

    @property
    def enabled(self) -> bool:
        return self.frames > 0


#: a frame or image size in pixels, (width, height), both positive
Size = tuple[PositiveInt, PositiveInt]
#: a share of something, 0..1
Fraction = Annotated[float, Field(ge=0, le=1)]


class WorldConfig(BaseModel):
    """How big and how hard the synthetic world is. ``quick`` shrinks clips for tests."""

    model_config = ConfigDict(extra="forbid")

    regular_size: Size = Field((320, 384), description="Regular video (width, height)")
    hard_size: Size = Field((288, 512), description="Hard video (width, height), portrait")
    split_lr_size: Size = Field((512, 384), description="left-right split-screen video")
    split_tb_size: Size = Field((320, 576), description="top-bottom split-screen video")
    shop_size: Size = Field((256, 320), description="studio shop / rear image (width, height)")
    fabric_size: int = Field(192, gt=0, description="square fabric close-up")
    fps: float = Field(30.0, gt=0, description="frame rate of every video")
    frames: int = Field(
        90, ge=10, description="frames per video (full world; at least 10: a sub-clip re-post)"
    )
    quick_frames: int = Field(48, ge=10, description="frames per video with quick=True (at least 10)")
    quick_scale: float = Field(1.0, gt=0, description="frame size factor with quick=True")
    crf: int = Field(23, ge=0, le=51, description="x264 CRF of original videos")
    reencode_crf: int = Field(32, ge=0, le=51, description="x264 CRF of re-encoded duplicates")
    gop: int = Field(30, ge=1, description="key-frame interval")
    nonclothing_fraction: float = Field(
        0.07, ge=0, le=1, description="share of bags, shoes, jewellery (min 3)"
    )
    duplicate_fraction: float = Field(0.08, ge=0, le=1, description="share of duplicate re-posts (min 3)")
    repost_variants: int = Field(
        0,
        ge=0,
        description="re-posts planted per variant kind (crop, zoom_crop, letterbox, pillarbox, mirror, "
        "rescale, grade, caption, speed; see truth.RepostVariant), as duplicates of other items' videos; "
        "0 (default) plants none",
    )
    rotated_reposts: int = Field(
        0,
        ge=0,
        description="re-posts planted per quarter turn (rotate_90, rotate_180, rotate_270: the clip "
        "re-encoded turned clockwise, as phone clips whose rotation was baked in or lost are), as "
        "duplicates of other items' videos; 0 (default) plants none",
    )
    mirrored_rotated_reposts: int = Field(
        0,
        ge=0,
        description="re-posts planted per mirrored quarter turn (mirror_rotate_90, mirror_rotate_180, "
        "mirror_rotate_270: the clip flipped left-right and then turned clockwise; the 180 one is "
        "upside down), as duplicates of other items' videos; 0 (default) plants none",
    )
    reframed_reposts: int = Field(
        0,
        ge=0,
        description="re-posts planted per kind of frame_rate (re-encoded at 24, 25 or 60 fps), "
        "pillarbox_wide (the clip in a 16:9 frame, as a portrait clip re-uploaded landscape: a 9:16 "
        "clip's bars take about two thirds of the width, often off centre) and trim (25-45% of the clip: a sub-clip), as "
        "duplicates of other items' videos; 0 (default) plants none",
    )
    filled_reposts: int = Field(
        0,
        ge=0,
        description="re-posts planted per kind of crop_fill (zoomed in to fill a frame of another "
        "aspect, 1:1, 3:4, 4:5, 9:16 or 16:9: two opposite borders cut) and blur_fill (fitted into a "
        "frame of another aspect over a blurred, enlarged copy of itself, as TikTok and Instagram "
        "fill it), as duplicates of other items' videos; 0 (default) plants none",
    )
    one_bar_reposts: int = Field(
        0,
        ge=0,
        description="re-posts planted of kind one_bar (the clip at the top or bottom of a tall frame, "
        "the rest one dark or white bar taking 42-60% of the frame's height, often with a caption on "
        "it: a common TikTok re-post layout), as duplicates of other items' videos; 0 (default) plants none",
    )
    retakes: int = Field(
        0,
        ge=0,
        description="hard negatives: items showing another clip of an item's garment on the same wearer "
        "(other motion and camera; every second one in another room), NOT duplicates; 0 (default) plants none",
    )
    wrong_shop_fraction: float = Field(
        0.04,
        ge=0,
        le=1,
        description="share of wrong shop associations (min 1): a Net-A-Porter or TikTok item served "
        "another item's shop image (same class when possible, never its confusable twin)",
    )
    wrong_carousels: int = Field(
        0,
        ge=0,
        description="Instagram carousels planted without the item's shop image: their product shots "
        "are other items' shop images (truth wrong_shop_kind 'carousel'); 0 (default) plants none",
    )
    wrong_split_screens: int = Field(
        0,
        ge=0,
        description="split-screen videos whose still half shows another item's shop image (truth "
        "wrong_shop_kind 'split_screen'); 0 (default) plants none",
    )
    split_screen_fraction: float = Field(
        0.35, ge=0, le=1, description="share of TikTok clothing items in split-screen (min 2)"
    )
    source_shares: dict[str, Fraction] = Field(
        {"netaporter": 0.55, "tiktok": 0.25, "instagram": 0.20},
        description="share of clothing products per source: tiktok and instagram (at least 4 and 2 "
        "products), netaporter gets the rest (its value is not read)",
    )
    confusable_fraction: float = Field(
        0.3, ge=0, le=1, description="share of clothing products in confusable pairs"
    )
    df2_pairs: int = Field(48, ge=0, description="DeepFashion2-format pairs (shop + users) in a full world")
    df2_quick_pairs: int = Field(16, ge=0, description="pairs with quick=True")
    df2_users_per_pair: Size = Field((2, 4), description="user images per pair (min, max)")
    noise: NoiseConfig = Field(
        default_factory=NoiseConfig,
        description="tracklet noise of real footage (wrong boxes, occlusion, blur, out of frame, look-alikes); "
        "off by default, on in the 'hard' preset",
    )
    workers: int = Field(2, ge=1, le=256, description="processes rendering/encoding videos (at most 256)")
    min_products: int = Field(20, ge=1, description="smallest world that still covers every class and case")

    @field_validator("df2_users_per_pair")
    @classmethod
    def _min_le_max(cls, value: tuple[int, int]) -> tuple[int, int]:
        """(min, max) with min <= max."""
        if value[0] > value[1]:
            raise ValueError(f"must be (min, max) with min <= max, got {list(value)}")
        return value

    @field_validator("source_shares")
    @classmethod
    def _known_sources(cls, value: dict[str, float]) -> dict[str, float]:
        """Shares of the three sources only (a misspelt key was ignored: its source kept its default)."""
        bad = sorted(set(value) - {"netaporter", "tiktok", "instagram"})
        if bad:
            raise ValueError(f"unknown source(s) {bad}; known: netaporter, tiktok, instagram")
        if value.get("tiktok", 0.25) + value.get("instagram", 0.2) > 1:
            raise ValueError("the tiktok and instagram shares add up to more than 1")
        return value

    def n_frames(self, quick: bool) -> int:
        return self.quick_frames if quick else self.frames


#: Named settings for ``mf world generate --preset``: what they change over the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "hard": {"noise": {"frames": 0.35}},
}


def preset_config(
    name: str, overrides: dict[str, Any] | None = None, *, where: str | None = None
) -> WorldConfig:
    """The config of preset ``name`` with ``overrides`` (e.g. what a --config file sets) on top;
    a combination the model refuses is a :class:`ConfigError` naming ``where`` (the file) and
    ``--preset``."""
    if name not in PRESETS:
        raise KeyError(name)
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[name].items()}
    for k, v in (overrides or {}).items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    try:
        return WorldConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "config"
        msg = validation_text(err)
        raise ConfigError(
            f"field '{field}' with --preset {name}: {msg}",
            where=where or "--preset",
            hint=f"change the file's {field} or choose another --preset",
        ) from None
