"""A video's tracklet boxes checked against its frame: against the size and length the split's
files give when the dataset is made, and against the decoded video at its first use (once per
video and product), with the verdict on a video cut short (:class:`BrokenVideo`). The functions
taking ``dataset`` apply its ``on_bad`` policy (``dataset._bad``) and keep what they learn on its
records; :class:`~movingfashion.dataset.MovingFashionDataset` holds :func:`check_video` as its
``_check_video``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from schemas.errors import DataFormatError, MediaError
from schemas.official_checks import PAST_END_HINT

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.records import ProductRecord, VideoRecord


class BrokenVideo(MediaError):
    """A video cut short or damaged, found when its tracklet reaches past the frames it holds
    (the message names product and video: raised and listed as it is)."""


def _box_text(box: Sequence[float]) -> str:
    """A box as the split file writes it: whole numbers without a decimal point."""
    return "[" + ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in box) + "]"


def _inside(c: list[float], width: int, height: int) -> bool:
    """Whether box ``c`` lies inside the frame and is at least a pixel wide and high (no problem,
    nothing to clip under a tolerance >= 0: the common case, checked first)."""
    return (
        c[0] >= 0 and c[1] >= 0 and c[2] <= width and c[3] <= height and c[2] - c[0] >= 1 and c[3] - c[1] >= 1
    )


def clean_boxes(
    dataset: MovingFashionDataset,
    pid: str,
    rel: str,
    boxes: dict[int, list[float]],
    width: int | None,
    height: int | None,
    nframes: int | None,
) -> dict[int, list[float]] | None:
    """Clip slightly-outside boxes; report the rest. ``None`` = drop the video (raise mode raises)."""
    if width is None or height is None:
        return boxes
    out = {}
    for f, b in sorted(boxes.items()):
        c = [float(b[0]), float(b[1]), float(b[2]), float(b[3])]
        if _inside(c, width, height) and (nframes is None or f < nframes):
            out[f] = c  # what _clip gives a box inside the frame, without a second pass
            continue
        problem = box_problem(dataset, f, b, width, height, nframes)
        if problem:
            dataset._bad(
                pid,
                f"video {rel}: {problem}",
                DataFormatError,
                str(dataset.split_path),
                PAST_END_HINT
                if nframes is not None and f >= nframes
                else "fix the tracklet boxes (absolute pixels [x1, y1, x2, y2] inside the frame)",
            )
            continue
        out[f] = clip_box(b, width, height)
    return out


def box_problem(
    dataset: MovingFashionDataset, f: int, b: Sequence[float], width: int, height: int, nframes: int | None
) -> str | None:
    t = dataset.box_tolerance
    if nframes is not None and f >= nframes:
        return f"frame {f} is past the video's last frame {nframes - 1}"
    if b[0] < -t or b[1] < -t or b[2] > width + t or b[3] > height + t:
        return f"frame {f}: box {_box_text(b)} outside the {width}x{height} frame"
    c = clip_box(b, width, height)
    if c[2] - c[0] < 1 or c[3] - c[1] < 1:
        return f"frame {f}: box {_box_text(b)} is empty inside the {width}x{height} frame"
    return None


def clip_box(b: Sequence[float], width: int, height: int) -> list[float]:
    """Box ``b`` clipped to a ``width`` x ``height`` frame (plain floats)."""
    return [
        min(max(float(b[0]), 0.0), width),
        min(max(float(b[1]), 0.0), height),
        min(max(float(b[2]), 0.0), width),
        min(max(float(b[3]), 0.0), height),
    ]


def check_video(
    dataset: MovingFashionDataset,
    rec: ProductRecord,
    video: VideoRecord,
    shape: tuple[int, int] | None = None,
) -> bool:
    """Check a video record's boxes once per process (each product's record of a video
    several products list on its own; the video is opened once). False = boxes were pruned or
    clipped: sample again.

    ``shape`` is the (H, W) of frames just decoded (saves decoding one to learn the size).
    """
    if video.checked:
        return True
    n, h, w = probe(dataset, rec, video, shape)
    video.num_frames, video.width, video.height = n, w, h
    cleaned = clean_boxes(dataset, rec.product_id, video.rel_path, video.boxes, w, h, n)
    video.checked = True  # not when a bad box raised: it raises again at the next load
    if cleaned is not None and cleaned != video.boxes:
        # boxes dropped (sample again) or clipped to the frame (cut again: the item must
        # hold the boxes every later load of it holds)
        video.set_boxes(cleaned)
        return False
    return True


def probe(
    dataset: MovingFashionDataset, rec: ProductRecord, video: VideoRecord, shape: tuple[int, int] | None
) -> tuple[int, int, int]:
    """(frames, H, W) of ``video``'s file, learnt once per path and process; raises
    :class:`BrokenVideo` when the record's boxes reach past the end of a video cut short."""
    key = str(video.path)
    probed = dataset._probed.get(key)
    n = probed[0] if probed is not None else len(dataset.cache.get(video.path))
    if any(f >= n for f in video.boxes):
        raise_if_cut_short(dataset, rec, video, n)
    if probed is not None:
        return probed
    if shape is not None:
        h, w = shape
    elif video.width is None or video.height is None:
        from movingfashion.media.readers import decode

        reader = dataset.cache.get(video.path)
        h, w = decode(reader, [0], backend=dataset.cache.backend).shape[1:3]  # MediaError if it fails
    else:
        h, w = video.height, video.width
    dataset._probed[key] = (n, h, w)
    return n, h, w


def drop_past_end(dataset: MovingFashionDataset, rec: ProductRecord, video: VideoRecord, n: int) -> None:
    """The video holds ``n`` frames: boxes past them are bad rows (``on_bad``), and whole-frame
    candidates stop at ``n``."""
    video.num_frames = n
    kept = dict(video.boxes)
    for f in sorted(f for f in video.boxes if f >= n):
        dataset._bad(
            rec.product_id,
            f"video {video.rel_path}: frame {f} is past the video's last frame {n - 1}",
            DataFormatError,
            str(dataset.split_path),
            PAST_END_HINT,
        )
        del kept[f]
    video.set_boxes(kept)


def raise_if_cut_short(dataset: MovingFashionDataset, rec: ProductRecord, video: VideoRecord, n: int) -> None:
    """Tracklet boxes lie past the ``n`` frames the video holds: :class:`BrokenVideo` (a
    MediaError naming product and file) when the file is what is wrong (:func:`cut_short`),
    so a truncated download is not reported as a tracklet past its end frame by frame."""
    key = f"{video.path}@{video.product_id}"  # the verdict weighs this record's boxes
    if key not in dataset._length_problems:
        dataset._length_problems[key] = cut_short(dataset, video, n)
    problem = dataset._length_problems[key]
    if problem is None:
        return
    raise BrokenVideo(
        f"product '{rec.product_id}': video {video.rel_path} is truncated or damaged: {problem}",
        where=str(video.path),
        hint="re-download or re-encode it (mf verify lists such files), or drop it from the split"
        + ("; or pass on_bad='skip' to drop such videos" if dataset.on_bad == "raise" else ""),
    )


def cut_short(dataset: MovingFashionDataset, video: VideoRecord, n: int) -> str | None:
    """Why a video whose boxes reach past its ``n`` frames is itself at fault, or None.

    At fault: its last frame does not decode with any backend, or it holds far fewer
    frames than expected: at most half of what its header declares, of what its tracklet
    file recorded, or of its last boxed frame; or 5% (at least 3) fewer than its header
    declares. Boxes past the end of a whole file (its last frame decodes and its header
    declares the frames it holds, or holds every packet its header declares while an edit
    list hides some, as a stream-copied cut does) are the tracklet's fault, however far past:
    dropped as bad rows of the split file."""
    from movingfashion.media.probe import probe_video, whole_frames
    from movingfashion.media.readers import decode

    if n <= 0:
        return "it holds no frame"
    try:
        decode(dataset.cache.get(video.path), [n - 1], backend=dataset.cache.backend)
    except MediaError:  # every backend tried (the decoders' own words: mf verify)
        return f"frame {n - 1}, the last of the {n} it holds, does not decode"
    try:
        declared: int | None = probe_video(video.path).frames
    except MediaError:
        declared = None
    if declared == n:  # header and decoded frames agree: the tracklet is what is off
        return None
    if declared and whole_frames(video.path) >= declared:  # whole: an edit list hides the rest
        return None
    last = max(video.boxes, default=n - 1)
    said = [f"its tracklet has boxes up to frame {last}"]
    if video.recorded_frames:
        said.append(f"its tracklet file records {video.recorded_frames} frames")
    if declared:
        said.insert(0, f"its header declares {declared}")
    expected = max(declared or 0, video.recorded_frames or 0, last + 1)
    if 2 * n <= expected or (declared and declared - n > max(2, declared // 20)):
        return f"it holds {n} frames, while {', '.join(said)}"
    return None
