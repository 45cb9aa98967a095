"""A downloaded video whose container header declares more frames than any video has (a forged
or damaged count: the header's sample table, read by FFmpeg as the stream's frame count) is
refused by the collectors' probe as final ``not_a_video``, naming the file and the field; a
``VideoProbe`` holds at most ``MAX_FRAMES`` frames (the tracklet files' limit)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from collectors.checks import probe_video
from schemas.errors import FetchError
from schemas.items import VideoProbe
from schemas.official import MAX_FRAMES
from tests.movingfashion.helpers import write_forged_video, write_video


def _forged(tmp_path, frames: int):
    """A whole 12-frame MP4, and a copy whose time-to-sample table says ``frames`` frames."""
    return write_video(tmp_path / "v.mp4", 12), write_forged_video(tmp_path / "forged.mp4", frames)


def test_a_header_declaring_more_frames_than_any_video_is_refused_final_naming_file_and_field(tmp_path):
    whole, forged = _forged(tmp_path, 2_000_000_000)
    assert probe_video(whole).frames == 12
    with pytest.raises(FetchError) as ei:  # was truncated_body, retried on every rerun in vain
        probe_video(forged)
    err = ei.value
    assert err.reason == "not_a_video" and not err.retryable and err.where == str(forged)
    assert err.message.startswith("frames (the count its header declares): 2000000000 frames is more than")
    assert f"at most {MAX_FRAMES}" in err.message


def test_a_video_probe_holds_at_most_max_frames():
    assert VideoProbe(frames=MAX_FRAMES, fps=25.0, width=8, height=8, duration_s=1.0).frames == MAX_FRAMES
    with pytest.raises(ValidationError, match=r"frames\n.*2000000000 frames is more than any video has"):
        VideoProbe(frames=2_000_000_000, fps=25.0, width=8, height=8, duration_s=1.0)
    assert VideoProbe.model_json_schema()["properties"]["frames"]["maximum"] == MAX_FRAMES
