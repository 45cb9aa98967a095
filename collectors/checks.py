"""Content checks of downloaded media: images and videos must decode; file extensions.

A file that vanished or changed while it was checked (another run writing the same folder) is
no content fault: :func:`probe_unchanged` and :func:`hash_unchanged` raise ``file_vanished``,
retried by a rerun, never a final content reason such as ``not_a_video``. Nor is a web page
where the media should be (:func:`looks_like_html`): ``html_instead_of_media``, retried, whatever
Content-Type it came with."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit

from schemas.atomic import sha256_file
from schemas.errors import FetchError, MediaError
from schemas.items import ImageProbe, VideoProbe

VIDEO_EXTS = {"mp4", "mov", "webm", "mkv", "m4v", "avi"}
IMAGE_EXTS = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "avif", "heic", "heif", "tif", "tiff"}
_TYPE_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/avif": "avif",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
}


#: reason of a web page (a bot check, a login wall) where a video or an image was expected: it
#: lasts minutes more often than for good, so a rerun retries it (``failed``, not ``rejected``)
HTML_REASON = "html_instead_of_media"
#: how a web page starts (after a UTF-8 byte order mark and white space, in any case)
_HTML_STARTS = (b"<!doctype html", b"<html")


def _file_ends(path: str | os.PathLike[str], head: int, tail: int) -> tuple[bytes, bytes] | None:
    """The first ``head`` and last ``tail`` bytes of ``path`` (what the sniffs of a file that did not
    decode read); None when it is gone or unreadable since its probe (the caller's stamp check
    names it: ``file_vanished``)."""
    try:
        with open(path, "rb") as fh:
            first = fh.read(head)
            if not tail:
                return first, b""
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - tail))
            return first, fh.read()
    except OSError:
        return None


def looks_like_html(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` starts as a web page does (``<!doctype html`` or ``<html``,
    after a UTF-8 byte order mark and white space, in any case). Asked only of a file that does
    not decode: a page served as ``image/jpeg`` or ``video/mp4`` is the same page as one served
    as ``text/html``, and gets the same outcome (:func:`html_in_place_of`)."""
    ends = _file_ends(path, 1024, 0)
    if ends is None:
        return False
    head = ends[0]
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\f").lower().startswith(_HTML_STARTS)


def html_in_place_of(expect: str, where: str, served_as: str | None = None) -> FetchError:
    """The error (``html_instead_of_media``, retryable) of a web page that came back at ``where``
    (its URL, or the file when that is all there is) instead of the ``expect`` (video/image);
    ``served_as``: the Content-Type it came with, named when it claimed media."""
    claim = f", served as {served_as.split(';')[0].strip()}" if served_as and "html" not in served_as else ""
    return FetchError(
        f"a web page came back instead of the {expect}{claim} (a bot check or a login wall?)",
        where=where,
        reason=HTML_REASON,
        retryable=True,
        hint="rerun later (the item is retried); if it lasts, open the URL in a browser",
    )


def probe_image(path: str | os.PathLike[str]) -> ImageProbe:
    """Decode an image; raise ``FetchError(reason="not_an_image")`` if it does not, or
    ``truncated_body`` (retried by a rerun) when it is a JPEG or PNG cut before its end, or
    ``html_instead_of_media`` (retried) when it is a web page (:func:`looks_like_html`)."""
    from movingfashion.media.images import ImageTooLarge
    from movingfashion.media.probe import probe_image as media_probe_image

    try:
        info = media_probe_image(path)
    except ImageTooLarge as exc:
        raise FetchError(exc.message, where=str(path), reason="not_an_image") from None
    except MediaError:
        if looks_like_html(path):
            raise html_in_place_of("image", str(path)) from None
        if cut_short_image(path):
            raise FetchError(
                "cut short: the image stops before its end marker",
                where=str(path),
                reason="truncated_body",
                retryable=True,
                hint="the transfer ended early without saying so; a rerun fetches it again",
            ) from None
        raise FetchError("file does not decode as an image", where=str(path), reason="not_an_image") from None
    return ImageProbe(width=info.width, height=info.height)


#: (signature, end marker) of the image formats whose end a cut transfer loses: JPEG (SOI ... EOI)
#: and PNG (signature ... IEND chunk with its CRC)
_IMAGE_ENDS = (
    (b"\xff\xd8\xff", b"\xff\xd9"),
    (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"),
)


def cut_short_image(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is the start of a JPEG or PNG whose end marker is missing: a body cut
    short in a way the transfer could not tell (a wrong Content-Length), which a rerun mends,
    not a file that is no image. Only asked of a file that does not decode."""
    ends = _file_ends(path, 8, 64)
    if ends is None:
        return False
    head, tail = ends[0], ends[1].rstrip(b"\0")  # zero padding after the end marker is harmless
    return any(head.startswith(sig) and not tail.endswith(end) for sig, end in _IMAGE_ENDS)


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Open a video, check it is whole and read its size, frame count, fps and codec.

    Whole: its first, middle and last frames decode (else the frames that do are counted), or
    the file holds every frame its header declares (a decoder may drop some by design: an edit
    list). Raises :class:`FetchError`: ``not_a_video`` (final) when no frame decodes or the
    header declares more frames than any video has (:data:`~schemas.official.MAX_FRAMES`),
    ``truncated_body`` (retried by a rerun) when the file stops short of its declared frames,
    a body cut off in a way the transfer could not tell (no or a wrong Content-Length), and
    ``html_instead_of_media`` (retried) when it is a web page (:func:`looks_like_html`).
    """
    from movingfashion.media.probe import probe_video as media_probe_video
    from movingfashion.media.probe import whole_frames

    try:
        info = media_probe_video(path, count_decodable=True)
    except MediaError:
        info = None
    if info is None or info.frames <= 0 or not info.decodable:
        if looks_like_html(path):
            raise html_in_place_of("video", str(path))
        raise FetchError("file does not decode as a video (no frame)", where=str(path), reason="not_a_video")
    if info.frames_problem is not None:  # a header's count, forged or damaged: no rerun helps
        raise FetchError(
            info.frames_problem,
            where=str(path),
            reason="not_a_video",
            hint="the file's header is damaged or forged; it is no video the dataset can use",
        )
    if info.decodable < info.frames and whole_frames(path) < info.frames:
        raise FetchError(
            f"cut short: {info.decodable} of the {info.frames} frames its header declares decode",
            where=str(path),
            reason="truncated_body",
            retryable=True,
            hint="the transfer ended early without saying so; a rerun fetches it again",
        )
    return VideoProbe(
        frames=info.frames,
        fps=info.fps,
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        codec=info.codec,
    )


#: reason of a file that vanished or changed under a check (retried by a rerun)
FILE_VANISHED = "file_vanished"

#: what tells one version of a file from another: (device, inode, size, mtime in ns)
FileStamp = tuple[int, int, int, int]


def stamp(path: str | os.PathLike[str]) -> FileStamp | None:
    """``path``'s :data:`FileStamp`, None when it is gone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def vanished(path: str | os.PathLike[str]) -> FetchError:
    """The retryable error of a file that vanished or changed while this run checked it."""
    return FetchError(
        "the file vanished or changed while it was checked (another run writing the same folder?)",
        where=str(path),
        reason=FILE_VANISHED,
        retryable=True,
        hint="rerun to fetch it again",
    )


def probe_unchanged(path: str | os.PathLike[str], expect: str) -> tuple[VideoProbe | ImageProbe, FileStamp]:
    """:func:`probe_file` and the stamp of the file it probed; a file missing, or changed or
    gone when its probe fails, raises ``file_vanished`` (retryable) instead of its probe's reason."""
    before = stamp(path)
    if before is None:
        raise vanished(path)
    try:
        probe = probe_file(path, expect)
    except FetchError:
        if stamp(path) != before:
            raise vanished(path) from None
        raise
    return probe, before


def hash_unchanged(path: str | os.PathLike[str], seen: FileStamp) -> tuple[str, int]:
    """(SHA-256, size) of ``path``, the file stamped ``seen`` when it was probed; one gone or
    changed since raises ``file_vanished``."""
    try:
        digest = sha256_file(path)
    except FileNotFoundError:
        raise vanished(path) from None
    if stamp(path) != seen:
        raise vanished(path)
    return digest, seen[2]


def probe_file(path: str | os.PathLike[str], expect: str) -> VideoProbe | ImageProbe:
    """Probe ``path`` as ``expect`` (``video`` or ``image``)."""
    if expect == "video":
        return probe_video(path)
    if expect == "image":
        return probe_image(path)
    raise ValueError(f"unknown media kind {expect!r}")


def ext_for(
    url: str, content_type: str | None, expect: str, path: str | os.PathLike[str] | None = None
) -> str:
    """File extension of a downloaded or adopted file: for an image, the format its bytes at
    ``path`` are (an AVIF served as ``.jpg`` is named ``.avif``); else from the URL's suffix,
    else the content type, else the kind's default."""
    if expect == "image" and path is not None:
        from movingfashion.media.images import image_file_format

        try:
            sniffed = image_file_format(path)
        except OSError:
            sniffed = None
        if sniffed is not None:
            return sniffed
    known = VIDEO_EXTS if expect == "video" else IMAGE_EXTS
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    if suffix in known:
        return "jpg" if suffix == "jpeg" else suffix
    if content_type:
        ctype = content_type.split(";")[0].strip().lower()
        ext = _TYPE_EXT.get(ctype) or (mimetypes.guess_extension(ctype) or "").lstrip(".")
        if ext in known:
            return ext
    return "mp4" if expect == "video" else "jpg"
