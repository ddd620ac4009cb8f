"""Models for the hotline feature (filled in by that feature)."""
