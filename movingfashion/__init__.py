"""Stage 4: MovingFashionDataset, samplers, Multi-DeepFashion2 and SEAM Match-RCNN."""
