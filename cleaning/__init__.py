"""Stage 2: validate media, remove duplicates, recover shops, map classes, split, publish."""
