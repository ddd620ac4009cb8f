"""Models for the plans feature (filled in by that feature)."""
