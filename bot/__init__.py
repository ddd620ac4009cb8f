"""bvte application: CLI, configuration and channel adapters."""

__version__ = "0.1.0"
