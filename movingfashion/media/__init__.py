"""Media I/O shared by every stage, one module per capability.

* :mod:`~movingfashion.media.readers`: the video reader registry (torchcodec, PyAV, decord,
  OpenCV), the per-process reader cache, ``read_frames`` / ``read_video``;
* :mod:`~movingfashion.media.video_source`: batch access with a prefetching decode thread;
* :mod:`~movingfashion.media.probe`: frames, fps, size, codec, decodable count of a file;
* :mod:`~movingfashion.media.ffmpeg`: the ffmpeg executable and its one H.264 command builder;
* :mod:`~movingfashion.media.images`: ``read_image`` / ``write_image`` (uint8 RGB);
* :mod:`~movingfashion.media.logs`: native decoder logs kept off the terminal.
"""
