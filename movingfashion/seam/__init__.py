"""SEAM Match-RCNN: the multi-frame matching head, two-phase training, evaluation and reports."""
