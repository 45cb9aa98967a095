"""Session-scoped synthetic worlds shared by every test package (see movingfashion.world)."""
