"""Names a CVAT file carries (the task name, the video's file name) are XML-escaped: any text XML
can hold, ``<``, ``&``, quotes and ``]]>`` included, reads back from the written file as itself
(never as markup)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from annotations.exchange.cvat import NOT_XML, video_xml
from schemas.dataset import Tracklet, VideoTracklets

MARKUP = st.sampled_from(["<", ">", "&", '"', "'", "]]>", "<!--", "&amp;", "<script>", "\n", "é", "a", "-"])
NAMES = (
    st.lists(MARKUP | st.text(max_size=3), min_size=1, max_size=6)
    .map("".join)
    # a CR is read back as LF by every XML parser (end-of-line handling); the split files'
    # paths never hold one (control characters are refused)
    .filter(lambda s: s and not NOT_XML.search(s) and "\r" not in s)
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
