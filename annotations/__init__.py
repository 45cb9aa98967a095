"""Stage 3: the Match-RCNN tracklet builder and its human review step."""
