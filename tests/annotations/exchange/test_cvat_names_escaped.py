"""Names a CVAT file carries (the task name, the video's file name) are XML-escaped: any text XML
can hold, ``<``, ``&``, quotes and ``]]>`` included, reads back from the written file as itself
(never as markup)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotations.exchange.common import UNWRITABLE
from annotations.exchange.cvat import video_xml
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError

MARKUP = st.sampled_from(["<", ">", "&", '"', "'", "]]>", "<!--", "&amp;", "<script>", "é", "a", "-"])
NAMES = (
    st.lists(MARKUP | st.text(max_size=3), min_size=1, max_size=6)
    .map("".join)
    # a control character is refused (test_control_characters_in_names_are_refused_by_every_export)
    .filter(lambda s: s and not UNWRITABLE.search(s))
)


@given(name=NAMES, stem=NAMES.filter(lambda s: "/" not in s))
@settings(max_examples=60, deadline=None)
def test_names_read_back_as_themselves(name, stem):
    video = f"videos/{stem}.mp4"
    vt = VideoTracklets.model_construct(
        product_id="p", video=video, frames=2, width=8, height=8, ground_truth=0,
        tracklets=[Tracklet.model_construct(video=video, boxes={0: [1, 1, 4, 4]}, class_id=1)],
    )  # fmt: skip
    root = ET.fromstring(video_xml(vt, [0], name=name))
    assert root.findtext("meta/task/name") == name
    assert root.findtext("meta/task/source") == f"{stem}.mp4"
    assert len(root.findall("track")) == 1  # no element came from the names


@pytest.mark.parametrize("char", ["\r", "\n", "\t", "\x1b", "\x7f", "\x85"])
def test_control_characters_in_names_are_refused_by_every_export(char, tmp_path):
    """Was: a CR in a CVAT task name read back as LF (XML end-of-line handling), a line break in
    a MOT sequence name started a new seqinfo.ini key. Each export now refuses the name, naming
    the field, before it writes a file."""
    from annotations.exchange.common import ExportVideo
    from annotations.exchange.fiftyone import write_fiftyone
    from annotations.exchange.mot import write_mot

    def vt(video):
        return VideoTracklets.model_construct(
            product_id="p", video=video, frames=2, width=8, height=8, ground_truth=0,
            tracklets=[Tracklet.model_construct(video=video, boxes={0: [1, 1, 4, 4]}, class_id=1)],
        )  # fmt: skip

    bad = f"a{char}b"
    for video, name, field in (
        ("videos/x.mp4", bad, "meta/task/name"),
        (f"videos/{bad}.mp4", "x", "meta/task/source"),
    ):
        with pytest.raises(DataFormatError, match=f"CVAT XML {field} .* holds {re.escape(ascii(char))}"):
            video_xml(vt(video), [0], name=name)
    ev = ExportVideo(vt("videos/x.mp4"), [0], key=bad)
    with pytest.raises(DataFormatError, match="MOT seqinfo.ini name") as exc:
        write_mot([ev], tmp_path / "mot", {bad: 25.0})
    assert exc.value.where == ascii("videos/x.mp4")
    with pytest.raises(DataFormatError, match="FiftyOne file name"):
        write_fiftyone([ev], tmp_path / "ds", tmp_path / "fo")
    assert not (tmp_path / "mot").exists() and not (tmp_path / "fo").exists()
