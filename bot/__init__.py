"""bvte application: CLI, configuration and channel adapters."""
