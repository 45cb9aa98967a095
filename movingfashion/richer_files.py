"""The project's tracklet files beside a split (``tracklets/<stem>[@<product>].json``), read for
:class:`~movingfashion.dataset.MovingFashionDataset`: what it uses of each (detector scores,
frame size), which file is a product's, and which videos several products share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from movingfashion.dataset_args import _first_error
from schemas.dataset import TrackletFileScores, VideoTracklets, check_ground_truth
from schemas.errors import MFError
from schemas.official import SPLIT_FILES, split_listing
from schemas.redact import redacted_logger
from schemas.text_input import read_file_bytes
from schemas.tracklet_names import shared_videos, tracklet_stem

#: the dataset's messages keep the dataset's logger name wherever their code lives: a user (and
#: ``mf train``, which quiets it while it opens the split) configures ``movingfashion.dataset``
log = redacted_logger("movingfashion.dataset")


@dataclass(frozen=True)
class RicherVideo:
    """What the dataset uses of a video's tracklet file (``tracklets/<stem>[@<product>].json``)."""

    video: str  #: the video as the file names it
    product_id: str
    frames: int
    width: int
    height: int
    #: frame -> detector score of the ground-truth tracklet ({} when the file chose none)
    confidences: dict[int, float]
    #: the tracklet file itself (what an error about its frame size names)
    path: Path | None = None
    #: the whole file (every tracklet, boxes included) when it was read in full
    #: (:func:`read_richer_file` with ``full``); None after the light read
    file: VideoTracklets | None = None


def read_richer_file(path: Path, *, full: bool = False) -> RicherVideo | None:
    """What the dataset uses of one tracklet file; None when there is none, or (with a warning)
    when it does not parse (:class:`~schemas.dataset.TrackletFileScores`: every field checked,
    the ground-truth tracklet in full: :func:`~schemas.dataset.check_ground_truth`). Only what is
    used is kept: the rest is dropped. With ``full`` the file is read as a whole
    :class:`~schemas.dataset.VideoTracklets` (every tracklet's boxes and frame keys checked too)
    and kept as :attr:`RicherVideo.file`."""
    try:
        data = read_file_bytes(path, what="tracklet file")
        vt = (VideoTracklets if full else TrackletFileScores).model_validate_json(data)
        gt = vt.tracklets[vt.ground_truth] if vt.ground_truth is not None else None
        conf = {} if gt is None else dict(gt.scores) if full else check_ground_truth(gt)
    except FileNotFoundError:
        return None
    except (ValidationError, OSError, ValueError, RecursionError, MFError) as exc:
        log.warning("%s: ignored, not a VideoTracklets file (%s)", path, _first_error(exc))
        return None
    return RicherVideo(
        vt.video, vt.product_id, vt.frames, vt.width, vt.height, conf, path, vt if full else None
    )


class _RicherFiles:
    """The tracklet files of a split's videos in ``folder``, each read when first asked for and
    once (only what the dataset uses of it, or with ``full`` the whole file: :func:`read_richer_file`)."""

    def __init__(self, folder: Path, shared: Iterable[str], *, full: bool = False) -> None:
        self.folder = folder if folder.is_dir() else None
        self.full = full
        #: the video paths several products list, over all the split files of the dataset
        #: (:func:`schemas.tracklet_names.shared_videos`: the builder's and ``mf verify``'s rule)
        self.shared = frozenset(shared)
        self._files: dict[str, RicherVideo | None] = {}

    def _file(self, stem: str) -> RicherVideo | None:
        if self.folder is None:
            return None
        if stem not in self._files:
            self._files[stem] = read_richer_file(self.folder / f"{stem}.json", full=self.full)
        return self._files[stem]

    def get(self, rel: str, pid: str) -> RicherVideo | None:
        """Video ``rel``'s file for product ``pid`` (:func:`schemas.tracklet_names.tracklet_stem`):
        for a video several products list, the product's own ``<stem>@<pid>.json``, else an older
        build's one file ``<stem>.json`` when it names this product; for a video no other product
        lists, ``<stem>.json`` (a ``<stem>@<pid>.json`` left from when it was shared is not read);
        None without one. A file is the video's only when it names a video of that file name."""
        name = Path(rel).name
        shared = rel in self.shared
        if shared:
            try:
                own = self._file(tracklet_stem(rel, pid, shared=True))
            except ValueError:  # a product id no file can be named after: it has none
                own = None
            if own is not None and Path(own.video).name == name and own.product_id == pid:
                return own
        plain = self._file(tracklet_stem(rel, shared=False))
        if plain is None or Path(plain.video).name != name:
            return None
        return plain if plain.product_id == pid or not shared else None


def other_split_files(root: Path, split_path: Path) -> list[Path]:
    """The split files of ``root`` besides ``split_path``: with it, they decide which videos are
    shared (:func:`_tracklet_shared`), so which tracklet file the dataset reads for a product (a
    cached feature bank is keyed by them too: :func:`movingfashion.seam.features.bank_key`)."""
    return [
        p
        for p in (root / name for name in SPLIT_FILES)
        if p.is_file() and p.resolve() != split_path.resolve()
    ]


def _tracklet_shared(root: Path, split_path: Path, official: dict[str, Any]) -> frozenset[str]:
    """The video paths several products list over ``official`` (the split read) and the other
    split files of ``root`` (:func:`other_split_files`; their rows that read; one that does not
    read at all is passed over with a warning): whose tracklet files are per product
    (:mod:`schemas.tracklet_names`). Only their listings are read: each kept beside its file for
    the version it lists (:func:`schemas.official.listing_file`), so the test split opens without
    parsing the training split's boxes."""
    listings = [(pid, e.video_paths) for pid, e in official.items()]
    for p in other_split_files(root, split_path):
        try:
            rows = split_listing(p, stored=True).products
        except (MFError, OSError, UnicodeDecodeError) as exc:
            log.warning("%s: not read for the videos it shares (%s)", p, str(exc).splitlines()[0])
            continue
        listings += [(pid, videos) for pid, videos, _ in rows]
    return shared_videos(listings)
