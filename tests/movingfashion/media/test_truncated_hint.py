"""A truncated video's error says it is truncated, not that its B-frames need a re-encode."""

from __future__ import annotations

import pytest

from movingfashion.media.readers import ReaderCache, read_frames
from schemas.errors import MediaError
from tests.movingfashion.media.conftest import CLIPS, encode


def test_a_truncated_video_with_b_frames_is_called_truncated_not_a_timestamp_problem(tmp_path):
    """A video cut short just after its index (the media data gone, as a download that stopped)
    gave the hint "re-encode it: its B-frames carry decode-order timestamps, which a remux keeps"
    (``mf-tracklets build``, ``read_frames``): the timestamp check took a stream that decodes
    nothing for one whose decoder reorders frames."""
    data = encode(tmp_path / "full.mp4", [*CLIPS["bframes"][1], "-movflags", "+faststart"], n=24).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: data.find(b"mdat") + 100])
    with pytest.raises(MediaError) as exc:
        read_frames(cut, [0], cache=ReaderCache(), backend="pyav")
    assert "cut.mp4" in str(exc.value)
    assert "truncated or corrupt" in exc.value.hint and "B-frames" not in exc.value.hint
