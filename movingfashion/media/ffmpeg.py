"""The ffmpeg executable and the one H.264 command builder every stage uses.

* :func:`encode_frames`: uint8 RGB frames -> H.264 mp4 (the synthetic world's videos, test clips);
* :func:`transcode`: an existing video, cropped and/or scaled, re-encoded as H.264 (split-screen
  crops at publish time, the world's ground-truth dataset).

Both write through :func:`h264_output_args`: libx264 with one thread, yuv420p, no metadata,
bit-exact muxing and the index in front (``+faststart``), so the same input always gives the
same bytes, and a temporary name renamed into place (a killed run leaves no half file).
ffmpeg runs with ``-loglevel error``; what it prints is captured (:func:`run_ffmpeg`) and logged
under ``movingfashion.media.ffmpeg``, never written over a progress bar. A re-encode reports its
frames to the progress display (:mod:`schemas.activity`) and is stopped when it encodes nothing
for :data:`STALL_S` seconds.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from movingfashion.media.logs import log_subprocess_stderr
from schemas.activity import activity
from schemas.atomic import commit_partial, partial_path
from schemas.errors import MediaError
from schemas.faults import fault_in_text
from schemas.paths import media_path
from schemas.redact import redacted_logger

log = redacted_logger(__name__)


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg (a pip dependency, always there)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def h264_output_args(*, crf: int, gop: int | None, preset: str) -> list[str]:
    """Deterministic libx264 output options (``gop=None``: x264's default key-frame interval)."""
    args = ["-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf)]
    if gop is not None:
        args += ["-g", str(gop)]
    return args + [
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-x264-params",
        "threads=1",
        "-fflags",
        "+bitexact",
        "-flags",
        "+bitexact",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
    ]


#: ffmpeg's muxer for a target's suffix (the temporary file's ``.part`` names none)
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


def _part(target: Path) -> Path:
    """A new temporary file beside ``target``, unique to this process and call and named as
    :func:`schemas.atomic.partial_path` names it, so :func:`schemas.atomic.sweep_partials`
    removes it once its writer is killed (two publishes re-encoding one video never share it)."""
    return partial_path(target)


def _muxer(target: Path) -> list[str]:
    """``-f FORMAT`` for ``target``'s container (the temporary name's suffix tells ffmpeg none)."""
    return ["-f", _MUXERS.get(target.suffix.lower(), "mp4")]


def _command(args: Sequence[str]) -> list[str]:
    """``ffmpeg -y -loglevel error ARGS`` (the one command line every call starts with)."""
    return [ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "error", *args]


def _finish(returncode: int, stderr: bytes, where: str, *, output: str | None = None) -> None:
    """MediaError naming ``where`` when ffmpeg failed; its messages go to the log otherwise.

    A failure to write ``output`` (disk full, permission, ...) is the local fault it names, not
    the video's: :func:`schemas.faults.fault_in_text` turns it into that fault.
    """
    err = stderr.decode(errors="replace")
    if returncode != 0:
        fault = fault_in_text(err, output or where)
        if fault is not None:
            raise fault
        raise MediaError(f"ffmpeg failed ({returncode}): {_excerpt(err)}", where=where)
    log_subprocess_stderr(log, err, where)


def _excerpt(err: str, limit: int = 400) -> str:
    """ffmpeg's first message (usually the cause) and as many whole last lines as fit."""
    lines = [line.strip() for line in err.strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    head, tail = lines[0], []
    for line in reversed(lines[1:]):
        if len(head) + sum(len(t) + 3 for t in tail) + len(line) + 3 > limit:
            break
        tail.insert(0, line)
    skipped = len(lines) - 1 - len(tail)
    return " / ".join([head, *(["..."] if skipped else []), *tail])


def _check_even(w: int, h: int, where: str, fix: str) -> None:
    """yuv420p halves the colour planes: H.264 output needs an even width and height."""
    if w % 2 or h % 2:
        raise MediaError(
            f"frame size {w}x{h} is odd; H.264 yuv420p needs an even width and height",
            where=where,
            hint=fix.format(w=w - w % 2, h=h - h % 2),
        )


#: seconds a re-encode may go without encoding a frame before it is stopped as stuck (a hung
#: network mount, a decoder looping on a damaged input); a slow encode that moves is never stopped
STALL_S = 300.0


def run_ffmpeg(
    args: Sequence[str],
    *,
    where: str,
    stdin: bytes | None = None,
    label: str | None = None,
    total_frames: int | None = None,
    stall_s: float | None = STALL_S,
) -> None:
    """Run ``ffmpeg -y -loglevel error ARGS``; MediaError naming ``where`` when it fails.

    Without ``stdin`` ffmpeg reports its frames as it goes (``-progress``): they are shown as the
    step ``label`` (default ``where``) of :mod:`schemas.activity` (``total_frames`` gives the
    percentage), and a run that encodes no frame for ``stall_s`` seconds is killed with a
    MediaError saying so (None: never).
    """
    if stdin is not None:
        proc = subprocess.run(_command(args), input=stdin, capture_output=True)
        _finish(proc.returncode, proc.stderr, where, output=args[-1] if args else where)
        return
    cmd = _command(["-nostats", "-progress", "pipe:1", *args])
    with activity(label or where, total=total_frames, unit="frames encoded") as advance:
        rc, err = _watched(cmd, advance, where=where, stall_s=stall_s)
    _finish(rc, err, where, output=args[-1] if args else where)


def _watched(
    cmd: list[str], advance: Callable[[int], None], *, where: str, stall_s: float | None
) -> tuple[int, bytes]:
    """Run ``cmd`` (``-progress pipe:1``), passing its frame count to ``advance``; its exit
    status and stderr. Killed (MediaError) when the count stands still for ``stall_s`` seconds."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    err: list[bytes] = []
    moved = [time.monotonic()]

    def read_progress() -> None:
        last = -1
        for line in proc.stdout:  # type: ignore[union-attr]
            key, _, value = line.partition(b"=")
            if key == b"frame" and value.strip().isdigit() and int(value) != last:
                last = int(value)
                moved[0] = time.monotonic()
                advance(last)

    readers = [
        threading.Thread(target=read_progress, name="ffmpeg-progress", daemon=True),
        threading.Thread(target=lambda: err.append(proc.stderr.read()), name="ffmpeg-stderr", daemon=True),  # type: ignore[union-attr]
    ]
    try:
        for t in readers:
            t.start()
        while True:
            try:
                rc = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if stall_s is not None and time.monotonic() - moved[0] > stall_s:
                    raise MediaError(
                        f"ffmpeg encoded no frame for {stall_s:g} s and was stopped",
                        where=where,
                        hint="check that the input is readable (a hung mount, a damaged file), then rerun",
                    ) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in readers:
            t.join(timeout=5)
    return rc, b"".join(err)


def encode_frames(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    fps: float = 30.0,
    crf: int = 23,
    gop: int | None = 30,
    preset: str = "veryfast",
) -> Path:
    """Write uint8 RGB frames ``[H, W, 3]`` as an H.264 mp4, atomically; returns the path.

    ``size`` is ``(width, height)`` (even numbers, yuv420p); without it the first frame sets it.
    Frames are streamed to ffmpeg, so a long video is never held in memory twice.
    """
    target = Path(path)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise MediaError("no frames to encode", where=str(target))
    w, h = size if size is not None else (int(first.shape[1]), int(first.shape[0]))
    _check_even(int(w), int(h), str(target), "crop or pad the frames to {w}x{h} (e.g. frame[:{h}, :{w}])")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(target)
    cmd = _command(
        [
            *("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-"),
            *h264_output_args(crf=crf, gop=gop, preset=preset),
            *_muxer(target),
            media_path(tmp),
        ]
    )
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for frame in itertools.chain([first], it):
            if frame.shape[:2] != (h, w):
                raise MediaError(f"frame of shape {frame.shape} does not match {w}x{h}", where=str(target))
            proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        proc.stdin.close()
        err = proc.stderr.read()
        rc = proc.wait()
        _finish(rc, err, str(target))
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        tmp.unlink(missing_ok=True)
        raise
    # not synced (as before): the synthetic world's videos, made again by a rerun, need no fsync each
    return commit_partial(tmp, target, durable=False)


def transcode(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    crop: Sequence[float] | None = None,
    scale: tuple[int, int] | None = None,
    crf: int = 18,
    gop: int | None = 30,
    preset: str = "medium",
    label: str | None = None,
    total_frames: int | None = None,
    stall_s: float | None = STALL_S,
) -> Path:
    """Re-encode ``src`` as H.264 into ``dst`` (atomic, same bytes on every rerun); returns ``dst``.

    Its frames show as the progress step ``label`` (default: ``src``; ``total_frames`` gives the
    percentage); one that encodes no frame for ``stall_s`` seconds is stopped (:func:`run_ffmpeg`).

    ``crop`` = ``(x1, y1, x2, y2)`` in pixels of the displayed frame (width and height rounded
    down to even numbers, as yuv420p needs; the box must lie inside the frame, MediaError
    otherwise: ffmpeg would move it inside silently); ``scale`` = ``(width, height)`` applied
    after the crop (even numbers).
    """
    filters = []
    if crop is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in crop)
        w, h = (x2 - x1) // 2 * 2, (y2 - y1) // 2 * 2
        if w <= 0 or h <= 0 or x1 < 0 or y1 < 0:
            raise MediaError(f"crop box {list(crop)} is empty or outside the frame", where=str(src))
        from movingfashion.media.probe import probe_video

        try:  # the displayed size: ffmpeg crops after applying a rotation tag
            info = probe_video(src)
        except MediaError:  # not a video: ffmpeg says so below
            info = None
        if info is not None and (x2 > info.width or y2 > info.height):
            raise MediaError(
                f"crop box {list(crop)} reaches past the {info.width}x{info.height} frame",
                where=str(src),
                hint="clip the box to the frame",
            )
        filters.append(f"crop={w}:{h}:{x1}:{y1}:exact=1")  # odd offsets as asked, not rounded
    if scale is not None:
        _check_even(int(scale[0]), int(scale[1]), str(src), "pass scale=({w}, {h})")
        filters.append(f"scale={int(scale[0])}:{int(scale[1])}")
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(target)
    args = ["-i", media_path(src), *(["-vf", ",".join(filters)] if filters else [])]
    try:
        output = media_path(tmp)
        run_ffmpeg(
            [*args, *h264_output_args(crf=crf, gop=gop, preset=preset), *_muxer(target), output],
            where=str(src),
            label=label,
            total_frames=total_frames,
            stall_s=stall_s,
        )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return commit_partial(tmp, target)
