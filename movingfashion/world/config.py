"""Settings of the synthetic world, with documented defaults (override with ``load_config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Bumped whenever the renderer changes what a seed produces (cached worlds are then rebuilt).
GENERATOR_VERSION = "3"


class WorldConfig(BaseModel):
    """How big and how hard the synthetic world is. ``quick`` shrinks clips for tests."""

    model_config = ConfigDict(extra="forbid")

    regular_size: tuple[int, int] = Field((320, 384), description="Regular video (width, height)")
    hard_size: tuple[int, int] = Field((288, 512), description="Hard video (width, height), portrait")
    split_lr_size: tuple[int, int] = Field((512, 384), description="left-right split-screen video")
    split_tb_size: tuple[int, int] = Field((320, 576), description="top-bottom split-screen video")
    shop_size: tuple[int, int] = Field((256, 320), description="studio shop / rear image (width, height)")
    fabric_size: int = Field(192, description="square fabric close-up")
    fps: float = Field(30.0, description="frame rate of every video")
    frames: int = Field(90, description="frames per video (full world)")
    quick_frames: int = Field(48, description="frames per video with quick=True")
    quick_scale: float = Field(1.0, description="frame size factor with quick=True")
    crf: int = Field(23, description="x264 CRF of original videos")
    reencode_crf: int = Field(32, description="x264 CRF of re-encoded duplicates")
    gop: int = Field(30, description="key-frame interval")
    nonclothing_fraction: float = Field(0.07, description="share of bags, shoes, jewellery (min 3)")
    duplicate_fraction: float = Field(0.08, description="share of duplicate re-posts (min 3)")
    repost_variants: int = Field(
        0,
        ge=0,
        description="re-posts planted per variant kind (crop, zoom_crop, letterbox, pillarbox, mirror, "
        "rescale, grade, caption, speed; see truth.RepostVariant), as duplicates of other items' videos; "
        "0 (default) plants none",
    )
    retakes: int = Field(
        0,
        ge=0,
        description="hard negatives: items showing another clip of an item's garment on the same wearer "
        "(other motion and camera; every second one in another room), NOT duplicates; 0 (default) plants none",
    )
    wrong_shop_fraction: float = Field(
        0.04,
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
        0.35, description="share of TikTok clothing items in split-screen (min 2)"
    )
    source_shares: dict[str, float] = Field(
        {"netaporter": 0.55, "tiktok": 0.25, "instagram": 0.20},
        description="share of clothing products per source",
    )
    confusable_fraction: float = Field(0.3, description="share of clothing products in confusable pairs")
    df2_pairs: int = Field(48, description="DeepFashion2-format pairs (shop + users) in a full world")
    df2_quick_pairs: int = Field(16, description="pairs with quick=True")
    df2_users_per_pair: tuple[int, int] = Field((2, 4), description="user images per pair (min, max)")
    workers: int = Field(2, description="processes rendering/encoding videos")
    min_products: int = Field(20, description="smallest world that still covers every class and case")

    def n_frames(self, quick: bool) -> int:
        return self.quick_frames if quick else self.frames
