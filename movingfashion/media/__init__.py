"""Media I/O shared by every stage: video readers (one registry), probing, ffmpeg encoding, images."""
