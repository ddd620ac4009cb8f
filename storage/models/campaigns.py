"""Models for the campaigns feature (filled in by that feature)."""
